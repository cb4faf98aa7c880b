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
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "fmt" -d 'Rewrite chain files in canonical form and stamp `last_modified` when their content changed'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "history" -d 'List recent runs, or show one (`history show ID`)'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "connectors" -d 'Reusable API definitions: list, show, test, create and import connectors'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "serve" -d 'Serve chains over HTTP: webhooks, an API for scripts and agents, and schedules'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "import" -d 'Turn a request written for another tool into a chain (`import curl \'curl …\'`)'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "schema" -d 'Print the JSON Schema of chain files (for editors and the YAML language server)'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "inputs" -d 'Print a chain\'s declared inputs and outputs (what a caller gives it and gets back)'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "auth" -d 'Manage the secrets kept in the OS keyring (chains read them with `secret("NAME")`)'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "man" -d 'Print a manual page (roff): `pytopus man run | man -l -`; the pages are also in the source\'s man/'
complete -c pytopus -n "__fish_pytopus_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l var -d 'Set a variable (repeatable); overrides `vars:` and --vars-file' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l vars-file -d 'Read variables from a JSON or YAML file (a map of name → value)' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l report -d 'Write a JSON report of the run (requests, statuses, timings, outputs, errors) to F' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l metrics -d 'Write Prometheus metrics of the run to F (text format, for node_exporter\'s textfile collector)' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l pushgateway -d 'Push the same metrics to the Prometheus Pushgateway at URL when the run ends' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l junit -d 'Write a JUnit XML report (a test suite per run, a test case per step) to F' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l har -d 'Write every request and response (each retry, item and page) to F as a HAR 1.2 archive' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l record -d 'Save every request and response to the tape F' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l replay -d 'Answer every request from the tape F instead of the network' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l output -d 'How to print the result on stdout' -r -f -a "json\t'Pretty-printed JSON'
yaml\t'YAML'
raw\t'Strings without quotes; anything else as compact JSON (for shell scripts)'"
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -s H -l header -d 'Send this header with every request (\'Name: value\', as curl\'s -H), replacing a header of the same name the chain sets; repeatable' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l step -d 'Run only this step, reusing the results of the steps before it from the last recorded run of this chain' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l from -d 'Start at this step, reusing the results of the steps before it from the last recorded run of this chain' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l until -d 'Stop after this step; the result printed is its result, and `finally` steps do not run' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l data -d 'Run the chain once per row of F (CSV with a header row, JSON array of objects, or JSON Lines)' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l parallel -d 'With --data: run at most N rows at once' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l shard -d 'Run only shard K of N: the --data rows (or else the `for_each` items) whose 0-based index i has i mod N = K-1' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l every -d 'Run the chain again every DURATION until interrupted' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l dry-run -d 'Render and print every request, send none'
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -s v -l verbose -d 'Show each request and response: -v the request and status lines, -vv also headers, -vvv also bodies (cut at 2 KiB, with the size); secrets redacted'
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -s q -l quiet -d 'Show nothing on stderr but errors'
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l no-progress -d 'Print one plain line per step even on a terminal'
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -s k -l insecure -d 'Do not check TLS certificates (like curl -k); says so on stderr. Prefer `tls: {ca_cert}` for a private CA'
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l curl -d 'Print each request on stderr as a curl command that sends it; secrets as $PYTOPUS_SECRET_* references'
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l no-history -d 'Do not record this run in the history (also PYTOPUS_HISTORY=off)'
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l resume -d 'Rerun the last failed run of this chain from its failed step, reusing the results recorded before it'
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l force -d 'With --resume: resume even though the chain file changed since that run'
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -l watch -d 'Run again whenever the chain or a file it reads changes (sub-chains, connectors, vars and data files), until Ctrl-C'
complete -c pytopus -n "__fish_pytopus_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pytopus -n "__fish_pytopus_using_subcommand validate" -l format -d 'How `--graph` is printed: `text`, or `dot` for Graphviz (`| dot -Tsvg > graph.svg`)' -r -f -a "text\t'One line per step with its wave and the steps it waits for'
dot\t'Graphviz DOT'"
complete -c pytopus -n "__fish_pytopus_using_subcommand validate" -l var -d 'Set a variable (repeatable); overrides `vars:` and --vars-file' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand validate" -l vars-file -d 'Read variables from a JSON or YAML file (a map of name → value)' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand validate" -l graph -d 'Print which steps wait for which (the order `parallel: auto` runs them in) on stdout'
complete -c pytopus -n "__fish_pytopus_using_subcommand validate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pytopus -n "__fish_pytopus_using_subcommand fmt" -l check -d 'Change nothing; exit 1 if a file would be rewritten (for CI)'
complete -c pytopus -n "__fish_pytopus_using_subcommand fmt" -l drop-comments -d 'Format YAML files that have comments, which the rewrite loses'
complete -c pytopus -n "__fish_pytopus_using_subcommand fmt" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand history; and not __fish_seen_subcommand_from show help" -l limit -d 'How many runs to list' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand history; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand history; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'Print one run\'s report (JSON, as `--report` writes it)'
complete -c pytopus -n "__fish_pytopus_using_subcommand history; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pytopus -n "__fish_pytopus_using_subcommand history; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand history; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print one run\'s report (JSON, as `--report` writes it)'
complete -c pytopus -n "__fish_pytopus_using_subcommand history; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and not __fish_seen_subcommand_from list show test new import help" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and not __fish_seen_subcommand_from list show test new import help" -f -a "list" -d 'List the connectors pytopus can find: ./connectors, your config directory, the built-ins'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and not __fish_seen_subcommand_from list show test new import help" -f -a "show" -d 'Show a connector: base URL, auth, rate limit, and each endpoint with its parameters'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and not __fish_seen_subcommand_from list show test new import help" -f -a "test" -d 'Send the connector\'s `test` request: does auth work, what do the rate-limit headers say'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and not __fish_seen_subcommand_from list show test new import help" -f -a "new" -d 'Write a new connector file, asking for what is not given as a flag'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and not __fish_seen_subcommand_from list show test new import help" -f -a "import" -d 'Turn an OpenAPI 3.x document (YAML or JSON) into a connector file'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and not __fish_seen_subcommand_from list show test new import help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from new" -l name -d 'Connector name: lowercase letters, digits, `_` and `-`, starting with a letter' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from new" -l base-url -d 'The API\'s base URL, e.g. https://api.example.com/v1' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from new" -l auth -d 'How requests authenticate' -r -f -a "none\t'No authentication'
bearer\t'`Authorization: Bearer <token>`, the token from the secret NAME_token'
basic\t'HTTP Basic, from the secrets NAME_username and NAME_password'
api-key\t'A key in a header (`X-API-Key`), from the secret NAME_key'
oauth2\t'OAuth2 client credentials, from the secrets NAME_client_id and NAME_client_secret'"
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from new" -s o -l output -d 'Where to write it (default: connectors/NAME.yaml)' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from new" -l force -d 'Replace the file if it exists'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from new" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from import" -l name -d 'Connector name (default: from the document\'s title)' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from import" -l base-url -d 'The API\'s address, when the document\'s server URL is relative (`/api/v3` is then appended to it) or to replace the document\'s server' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from import" -s o -l output -d 'Where to write it (default: connectors/NAME.yaml; `-` for stdout)' -r -F
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from import" -l force -d 'Replace the file if it exists'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the connectors pytopus can find: ./connectors, your config directory, the built-ins'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show a connector: base URL, auth, rate limit, and each endpoint with its parameters'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from help" -f -a "test" -d 'Send the connector\'s `test` request: does auth work, what do the rate-limit headers say'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from help" -f -a "new" -d 'Write a new connector file, asking for what is not given as a flag'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from help" -f -a "import" -d 'Turn an OpenAPI 3.x document (YAML or JSON) into a connector file'
complete -c pytopus -n "__fish_pytopus_using_subcommand connectors; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pytopus -n "__fish_pytopus_using_subcommand serve" -l listen -d 'Address and port to listen on' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand serve" -l token-from-secret -d 'Read the API token from the secret NAME (else from PYTOPUS_SERVE_TOKEN)' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand serve" -l log-format -d 'Log format on stderr: one line per request and per run' -r -f -a "text\t'`key=value` lines'
json\t'One JSON object a line'"
complete -c pytopus -n "__fish_pytopus_using_subcommand serve" -l max-body -d 'Largest request body accepted (bytes, or with KiB/MiB); larger gets 413' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand serve" -l shutdown-timeout -d 'On SIGTERM or Ctrl-C, how long running chains may take to finish before they are interrupted' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand serve" -l allow-host -d 'Also answer to this host name on a loopback address (a tunnel\'s or proxy\'s), repeatable' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand serve" -l allow-remote -d 'Allow listening on an address other than loopback (an API token is then required)'
complete -c pytopus -n "__fish_pytopus_using_subcommand serve" -l no-history -d 'Do not record the served runs in the history (also PYTOPUS_HISTORY=off)'
complete -c pytopus -n "__fish_pytopus_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pytopus -n "__fish_pytopus_using_subcommand import; and not __fish_seen_subcommand_from curl help" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand import; and not __fish_seen_subcommand_from curl help" -f -a "curl" -d 'Turn a curl command (as "Copy as cURL" in a browser writes it, bash or Windows cmd) into a chain, printed as YAML'
complete -c pytopus -n "__fish_pytopus_using_subcommand import; and not __fish_seen_subcommand_from curl help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pytopus -n "__fish_pytopus_using_subcommand import; and __fish_seen_subcommand_from curl" -l name -d 'The step\'s name (default: from the method and the URL\'s path, e.g. `PostUsers`)' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand import; and __fish_seen_subcommand_from curl" -l shell -d 'The shell the command was copied for (default: guessed; `^` line ends and `^"` say cmd)' -r -f -a "bash\t''
cmd\t''"
complete -c pytopus -n "__fish_pytopus_using_subcommand import; and __fish_seen_subcommand_from curl" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pytopus -n "__fish_pytopus_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "curl" -d 'Turn a curl command (as "Copy as cURL" in a browser writes it, bash or Windows cmd) into a chain, printed as YAML'
complete -c pytopus -n "__fish_pytopus_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pytopus -n "__fish_pytopus_using_subcommand schema" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand inputs" -l format -d '`text` (a table) or `json-schema` (one JSON Schema of the inputs, and one of the outputs, for tools)' -r -f -a "text\t''
json-schema\t''"
complete -c pytopus -n "__fish_pytopus_using_subcommand inputs" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and not __fish_seen_subcommand_from set list logout delete login help" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and not __fish_seen_subcommand_from set list logout delete login help" -f -a "set" -d 'Store a secret: a hidden prompt on a terminal, else standard input'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and not __fish_seen_subcommand_from set list logout delete login help" -f -a "list" -d 'List the names of the stored secrets, one a line (never their values); cached OAuth2 tokens are listed apart on stderr'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and not __fish_seen_subcommand_from set list logout delete login help" -f -a "logout" -d 'Forget cached OAuth2 tokens: all of them, or the one NAME (as `auth list` shows it); the next run fetches new ones'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and not __fish_seen_subcommand_from set list logout delete login help" -f -a "delete" -d 'Delete a stored secret (exit status 1 when there was none)'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and not __fish_seen_subcommand_from set list logout delete login help" -f -a "login" -d 'Log in with OAuth2 in a browser (authorization code + PKCE) and store the refresh token as NAME'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and not __fish_seen_subcommand_from set list logout delete login help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from logout" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from login" -l authorize-url -d 'The authorization endpoint the browser opens (default: the connector\'s)' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from login" -l token-url -d 'The token endpoint the code is exchanged at (default: the connector\'s)' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from login" -l client-id -d 'The OAuth2 client id (default: the connector\'s)' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from login" -l client-secret-from -d 'Name of the secret holding the client secret (confidential clients)' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from login" -l scope -d 'Scopes to ask for (space-separated, as the server expects)' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from login" -l port -d 'Port of the redirect listener on 127.0.0.1 (0 picks a free one; register the redirect URI with your provider)' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from login" -l wait -d 'How long to wait for the browser' -r
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from login" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "set" -d 'Store a secret: a hidden prompt on a terminal, else standard input'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the names of the stored secrets, one a line (never their values); cached OAuth2 tokens are listed apart on stderr'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "logout" -d 'Forget cached OAuth2 tokens: all of them, or the one NAME (as `auth list` shows it); the next run fetches new ones'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a stored secret (exit status 1 when there was none)'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "login" -d 'Log in with OAuth2 in a browser (authorization code + PKCE) and store the refresh token as NAME'
complete -c pytopus -n "__fish_pytopus_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pytopus -n "__fish_pytopus_using_subcommand completions" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand man" -s h -l help -d 'Print help'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate fmt history connectors serve import schema inputs auth completions man help" -f -a "run" -d 'Run a chain file and print its result on stdout'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate fmt history connectors serve import schema inputs auth completions man help" -f -a "validate" -d 'Check chain files without sending anything'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate fmt history connectors serve import schema inputs auth completions man help" -f -a "fmt" -d 'Rewrite chain files in canonical form and stamp `last_modified` when their content changed'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate fmt history connectors serve import schema inputs auth completions man help" -f -a "history" -d 'List recent runs, or show one (`history show ID`)'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate fmt history connectors serve import schema inputs auth completions man help" -f -a "connectors" -d 'Reusable API definitions: list, show, test, create and import connectors'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate fmt history connectors serve import schema inputs auth completions man help" -f -a "serve" -d 'Serve chains over HTTP: webhooks, an API for scripts and agents, and schedules'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate fmt history connectors serve import schema inputs auth completions man help" -f -a "import" -d 'Turn a request written for another tool into a chain (`import curl \'curl …\'`)'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate fmt history connectors serve import schema inputs auth completions man help" -f -a "schema" -d 'Print the JSON Schema of chain files (for editors and the YAML language server)'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate fmt history connectors serve import schema inputs auth completions man help" -f -a "inputs" -d 'Print a chain\'s declared inputs and outputs (what a caller gives it and gets back)'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate fmt history connectors serve import schema inputs auth completions man help" -f -a "auth" -d 'Manage the secrets kept in the OS keyring (chains read them with `secret("NAME")`)'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate fmt history connectors serve import schema inputs auth completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate fmt history connectors serve import schema inputs auth completions man help" -f -a "man" -d 'Print a manual page (roff): `pytopus man run | man -l -`; the pages are also in the source\'s man/'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and not __fish_seen_subcommand_from run validate fmt history connectors serve import schema inputs auth completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and __fish_seen_subcommand_from history" -f -a "show" -d 'Print one run\'s report (JSON, as `--report` writes it)'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and __fish_seen_subcommand_from connectors" -f -a "list" -d 'List the connectors pytopus can find: ./connectors, your config directory, the built-ins'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and __fish_seen_subcommand_from connectors" -f -a "show" -d 'Show a connector: base URL, auth, rate limit, and each endpoint with its parameters'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and __fish_seen_subcommand_from connectors" -f -a "test" -d 'Send the connector\'s `test` request: does auth work, what do the rate-limit headers say'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and __fish_seen_subcommand_from connectors" -f -a "new" -d 'Write a new connector file, asking for what is not given as a flag'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and __fish_seen_subcommand_from connectors" -f -a "import" -d 'Turn an OpenAPI 3.x document (YAML or JSON) into a connector file'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and __fish_seen_subcommand_from import" -f -a "curl" -d 'Turn a curl command (as "Copy as cURL" in a browser writes it, bash or Windows cmd) into a chain, printed as YAML'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "set" -d 'Store a secret: a hidden prompt on a terminal, else standard input'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "list" -d 'List the names of the stored secrets, one a line (never their values); cached OAuth2 tokens are listed apart on stderr'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "logout" -d 'Forget cached OAuth2 tokens: all of them, or the one NAME (as `auth list` shows it); the next run fetches new ones'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "delete" -d 'Delete a stored secret (exit status 1 when there was none)'
complete -c pytopus -n "__fish_pytopus_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "login" -d 'Log in with OAuth2 in a browser (authorization code + PKCE) and store the refresh token as NAME'
