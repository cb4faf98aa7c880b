complete --keep-order --exclusive --command pytopus --arguments "(PYTOPUS_COMPLETE=fish pytopus -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
