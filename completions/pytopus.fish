# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_pytopus_global_optspecs
    string join \n h/help V/version
end

function __fish_pytopus_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_pytopus_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_pytopus_using_subcommand
    set -l cmd (__fish_pytopus_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c pytopus -n "__fish_pytopus_needs_command" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_needs_command" -s V -l version -d 'Print version'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "run" -d 'Run a chain file and print its result on stdout'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "validate" -d 'Check chain files without sending anything'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "serve" -d 'Serve chains over HTTP: webhooks, an API for scripts and agents, and schedules'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "schema" -d 'Print the JSON Schema of chain files (for editors and the YAML language server)'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "auth" -d 'Manage the secrets kept in the OS keyring (chains read them with `secret("NAME")`)'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l var -d 'Set a variable (repeatable); overrides `vars:` and --vars-file' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l vars-file -d 'Read variables from a JSON or YAML file (a map of name → value)' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l report -d 'Write a JSON report of the run (requests, statuses, timings, outputs, errors) to F' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l record -d 'Save every request and response to the tape F' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l replay -d 'Answer every request from the tape F instead of the network' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l output -d 'How to print the result on stdout' -r -f -a "json\t'Pretty-printed JSON'
yaml\t'YAML'
raw\t'Strings without quotes; anything else as compact JSON (for shell scripts)'"
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l data -d 'Run the chain once per row of F (CSV with a header row, JSON array of objects, or JSON Lines)' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l parallel -d 'With --data: run at most N rows at once' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l shard -d 'Run only shard K of N: the --data rows (or else the `for_each` items) whose 0-based index i has i mod N = K-1' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l every -d 'Run the chain again every DURATION until interrupted' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l dry-run -d 'Render and print every request, send none'
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -s v -l verbose -d 'Show more: request and response headers for each step'
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -s q -l quiet -d 'Show nothing on stderr but errors'
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l no-progress -d 'Print one plain line per step even on a terminal'
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pytopus -n "__fish_pytopus_using_subcommand validate" -l format -d 'How `--graph` is printed: `text`, or `dot` for Graphviz (`| dot -Tsvg > graph.svg`)' -r -f -a "text\t'One line per step with its wave and the steps it waits for'
dot\t'Graphviz DOT'"
complete -c pytopus -n "__fish_pytopus_using_subcommand validate" -l var -d 'Set a variable (repeatable); overrides `vars:` and --vars-file' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand validate" -l vars-file -d 'Read variables from a JSON or YAML file (a map of name → value)' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand validate" -l graph -d 'Print which steps wait for which (the order `parallel: auto` runs them in) on stdout'
complete -c pytopus -n "__fish_pytopus_using_subcommand validate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pytopus -n "__fish_pytopus_using_subcommand serve" -l listen -d 'Address and port to listen on' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand serve" -l token-from-secret -d 'Read the API token from the secret NAME (else from PYTOPUS_SERVE_TOKEN)' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand serve" -l log-format -d 'Log format on stderr: one line per request and per run' -r -f -a "text\t'`key=value` lines'
json\t'One JSON object a line'"
complete -c pytopus -n "__fish_pytopus_using_subcommand serve" -l max-body -d 'Largest request body accepted (bytes, or with KiB/MiB); larger gets 413' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand serve" -l shutdown-timeout -d 'On SIGTERM or Ctrl-C, how long running chains may take to finish before they are interrupted' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand serve" -l allow-remote -d 'Allow listening on an address other than loopback (an API token is then required)'
complete -c pytopus -n "__fish_pytopus_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pytopus -n "__fish_pytopus_using_subcommand schema" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and not __fish_seen_subcommand_from set list delete login help" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and not __fish_seen_subcommand_from set list delete login help" -f -a "set" -d 'Store a secret: a hidden prompt on a terminal, else standard input'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and not __fish_seen_subcommand_from set list delete login help" -f -a "list" -d 'List the names of the stored secrets, one a line (never their values)'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and not __fish_seen_subcommand_from set list delete login help" -f -a "delete" -d 'Delete a stored secret (exit status 1 when there was none)'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and not __fish_seen_subcommand_from set list delete login help" -f -a "login" -d 'Log in with OAuth2 in a browser (authorization code + PKCE) and store the refresh token as NAME'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and not __fish_seen_subcommand_from set list delete login help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from login" -l authorize-url -d 'The authorization endpoint the browser opens' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from login" -l token-url -d 'The token endpoint the code is exchanged at' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from login" -l client-id -d 'The OAuth2 client id' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from login" -l client-secret-from -d 'Name of the secret holding the client secret (confidential clients)' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from login" -l scope -d 'Scopes to ask for (space-separated, as the server expects)' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from login" -l port -d 'Port of the redirect listener on 127.0.0.1 (0 picks a free one; register the redirect URI with your provider)' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from login" -l wait -d 'How long to wait for the browser' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from login" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "set" -d 'Store a secret: a hidden prompt on a terminal, else standard input'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the names of the stored secrets, one a line (never their values)'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a stored secret (exit status 1 when there was none)'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "login" -d 'Log in with OAuth2 in a browser (authorization code + PKCE) and store the refresh token as NAME'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pytopus -n "__fish_pytopus_using_subcommand completions" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate serve schema auth completions help" -f -a "run" -d 'Run a chain file and print its result on stdout'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate serve schema auth completions help" -f -a "validate" -d 'Check chain files without sending anything'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate serve schema auth completions help" -f -a "serve" -d 'Serve chains over HTTP: webhooks, an API for scripts and agents, and schedules'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate serve schema auth completions help" -f -a "schema" -d 'Print the JSON Schema of chain files (for editors and the YAML language server)'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate serve schema auth completions help" -f -a "auth" -d 'Manage the secrets kept in the OS keyring (chains read them with `secret("NAME")`)'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate serve schema auth completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate serve schema auth completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "set" -d 'Store a secret: a hidden prompt on a terminal, else standard input'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "list" -d 'List the names of the stored secrets, one a line (never their values)'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "delete" -d 'Delete a stored secret (exit status 1 when there was none)'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "login" -d 'Log in with OAuth2 in a browser (authorization code + PKCE) and store the refresh token as NAME'
