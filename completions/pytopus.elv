
set edit:completion:arg-completer[pytopus] = { |@words|
    var index = (count $words)
    set index = (- $index 1)

    put (env _CLAP_IFS="\n" _CLAP_COMPLETE_INDEX=(to-string $index) PYTOPUS_COMPLETE="elvish" pytopus -- $@words) | to-lines
}

