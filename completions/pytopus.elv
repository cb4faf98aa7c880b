
use builtin;
use str;

set edit:completion:arg-completer[pytopus] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'pytopus'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'pytopus'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand run 'Run a chain file and print its result on stdout'
            cand validate 'Check chain files without sending anything'
            cand fmt 'Rewrite chain files in canonical form and stamp `last_modified` when their content changed'
            cand history 'List recent runs, or show one (`history show ID`)'
            cand connectors 'Reusable API definitions: list, show, test, create and import connectors'
            cand serve 'Serve chains over HTTP: webhooks, an API for scripts and agents, and schedules'
            cand import 'Turn a request written for another tool into a chain (`import curl ''curl …''`)'
            cand schema 'Print the JSON Schema of chain files (for editors and the YAML language server)'
            cand inputs 'Print a chain''s declared inputs and outputs (what a caller gives it and gets back)'
            cand auth 'Manage the secrets kept in the OS keyring (chains read them with `secret("NAME")`)'
            cand completions 'Print a shell completion script'
            cand man 'Print a manual page (roff): `pytopus man run | man -l -`; the pages are also in the source''s man/'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'pytopus;run'= {
            cand --var 'Set a variable (repeatable); overrides `vars:` and --vars-file'
            cand --vars-file 'Read variables from a JSON or YAML file (a map of name → value)'
            cand --report 'Write a JSON report of the run (requests, statuses, timings, outputs, errors) to F'
            cand --metrics 'Write Prometheus metrics of the run to F (text format, for node_exporter''s textfile collector)'
            cand --pushgateway 'Push the same metrics to the Prometheus Pushgateway at URL when the run ends'
            cand --junit 'Write a JUnit XML report (a test suite per run, a test case per step) to F'
            cand --har 'Write every request and response (each retry, item and page) to F as a HAR 1.2 archive'
            cand --record 'Save every request and response to the tape F'
            cand --replay 'Answer every request from the tape F instead of the network'
            cand --output 'How to print the result on stdout'
            cand -H 'Send this header with every request (''Name: value'', as curl''s -H), replacing a header of the same name the chain sets; repeatable'
            cand --header 'Send this header with every request (''Name: value'', as curl''s -H), replacing a header of the same name the chain sets; repeatable'
            cand --step 'Run only this step, reusing the results of the steps before it from the last recorded run of this chain'
            cand --from 'Start at this step, reusing the results of the steps before it from the last recorded run of this chain'
            cand --until 'Stop after this step; the result printed is its result, and `finally` steps do not run'
            cand --data 'Run the chain once per row of F (CSV with a header row, JSON array of objects, or JSON Lines)'
            cand --parallel 'With --data: run at most N rows at once'
            cand --shard 'Run only shard K of N: the --data rows (or else the `for_each` items) whose 0-based index i has i mod N = K-1'
            cand --every 'Run the chain again every DURATION until interrupted'
            cand --dry-run 'Render and print every request, send none'
            cand -v 'Show each request and response: -v the request and status lines, -vv also headers, -vvv also bodies (cut at 2 KiB, with the size); secrets redacted'
            cand --verbose 'Show each request and response: -v the request and status lines, -vv also headers, -vvv also bodies (cut at 2 KiB, with the size); secrets redacted'
            cand -q 'Show nothing on stderr but errors'
            cand --quiet 'Show nothing on stderr but errors'
            cand --no-progress 'Print one plain line per step even on a terminal'
            cand -k 'Do not check TLS certificates (like curl -k); says so on stderr. Prefer `tls: {ca_cert}` for a private CA'
            cand --insecure 'Do not check TLS certificates (like curl -k); says so on stderr. Prefer `tls: {ca_cert}` for a private CA'
            cand --curl 'Print each request on stderr as a curl command that sends it; secrets as $PYTOPUS_SECRET_* references'
            cand --no-history 'Do not record this run in the history (also PYTOPUS_HISTORY=off)'
            cand --resume 'Rerun the last failed run of this chain from its failed step, reusing the results recorded before it'
            cand --force 'With --resume: resume even though the chain file changed since that run'
            cand --watch 'Run again whenever the chain or a file it reads changes (sub-chains, connectors, vars and data files), until Ctrl-C'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'pytopus;validate'= {
            cand --format 'How `--graph` is printed: `text`, or `dot` for Graphviz (`| dot -Tsvg > graph.svg`)'
            cand --var 'Set a variable (repeatable); overrides `vars:` and --vars-file'
            cand --vars-file 'Read variables from a JSON or YAML file (a map of name → value)'
            cand --graph 'Print which steps wait for which (the order `parallel: auto` runs them in) on stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'pytopus;fmt'= {
            cand --check 'Change nothing; exit 1 if a file would be rewritten (for CI)'
            cand --drop-comments 'Format YAML files that have comments, which the rewrite loses'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pytopus;history'= {
            cand --limit 'How many runs to list'
            cand -h 'Print help'
            cand --help 'Print help'
            cand show 'Print one run''s report (JSON, as `--report` writes it)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'pytopus;history;show'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pytopus;history;help'= {
            cand show 'Print one run''s report (JSON, as `--report` writes it)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'pytopus;history;help;show'= {
        }
        &'pytopus;history;help;help'= {
        }
        &'pytopus;connectors'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'List the connectors pytopus can find: ./connectors, your config directory, the built-ins'
            cand show 'Show a connector: base URL, auth, rate limit, and each endpoint with its parameters'
            cand test 'Send the connector''s `test` request: does auth work, what do the rate-limit headers say'
            cand new 'Write a new connector file, asking for what is not given as a flag'
            cand import 'Turn an OpenAPI 3.x document (YAML or JSON) into a connector file'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'pytopus;connectors;list'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pytopus;connectors;show'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pytopus;connectors;test'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pytopus;connectors;new'= {
            cand --name 'Connector name: lowercase letters, digits, `_` and `-`, starting with a letter'
            cand --base-url 'The API''s base URL, e.g. https://api.example.com/v1'
            cand --auth 'How requests authenticate'
            cand -o 'Where to write it (default: connectors/NAME.yaml)'
            cand --output 'Where to write it (default: connectors/NAME.yaml)'
            cand --force 'Replace the file if it exists'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'pytopus;connectors;import'= {
            cand --name 'Connector name (default: from the document''s title)'
            cand --base-url 'The API''s address, when the document''s server URL is relative (`/api/v3` is then appended to it) or to replace the document''s server'
            cand -o 'Where to write it (default: connectors/NAME.yaml; `-` for stdout)'
            cand --output 'Where to write it (default: connectors/NAME.yaml; `-` for stdout)'
            cand --force 'Replace the file if it exists'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pytopus;connectors;help'= {
            cand list 'List the connectors pytopus can find: ./connectors, your config directory, the built-ins'
            cand show 'Show a connector: base URL, auth, rate limit, and each endpoint with its parameters'
            cand test 'Send the connector''s `test` request: does auth work, what do the rate-limit headers say'
            cand new 'Write a new connector file, asking for what is not given as a flag'
            cand import 'Turn an OpenAPI 3.x document (YAML or JSON) into a connector file'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'pytopus;connectors;help;list'= {
        }
        &'pytopus;connectors;help;show'= {
        }
        &'pytopus;connectors;help;test'= {
        }
        &'pytopus;connectors;help;new'= {
        }
        &'pytopus;connectors;help;import'= {
        }
        &'pytopus;connectors;help;help'= {
        }
        &'pytopus;serve'= {
            cand --listen 'Address and port to listen on'
            cand --token-from-secret 'Read the API token from the secret NAME (else from PYTOPUS_SERVE_TOKEN)'
            cand --log-format 'Log format on stderr: one line per request and per run'
            cand --max-body 'Largest request body accepted (bytes, or with KiB/MiB); larger gets 413'
            cand --shutdown-timeout 'On SIGTERM or Ctrl-C, how long running chains may take to finish before they are interrupted'
            cand --allow-host 'Also answer to this host name on a loopback address (a tunnel''s or proxy''s), repeatable'
            cand --allow-remote 'Allow listening on an address other than loopback (an API token is then required)'
            cand --no-history 'Do not record the served runs in the history (also PYTOPUS_HISTORY=off)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'pytopus;import'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand curl 'Turn a curl command (as "Copy as cURL" in a browser writes it, bash or Windows cmd) into a chain, printed as YAML'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'pytopus;import;curl'= {
            cand --name 'The step''s name (default: from the method and the URL''s path, e.g. `PostUsers`)'
            cand --shell 'The shell the command was copied for (default: guessed; `^` line ends and `^"` say cmd)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'pytopus;import;help'= {
            cand curl 'Turn a curl command (as "Copy as cURL" in a browser writes it, bash or Windows cmd) into a chain, printed as YAML'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'pytopus;import;help;curl'= {
        }
        &'pytopus;import;help;help'= {
        }
        &'pytopus;schema'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pytopus;inputs'= {
            cand --format '`text` (a table) or `json-schema` (one JSON Schema of the inputs, and one of the outputs, for tools)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pytopus;auth'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand set 'Store a secret: a hidden prompt on a terminal, else standard input'
            cand list 'List the names of the stored secrets, one a line (never their values); cached OAuth2 tokens are listed apart on stderr'
            cand logout 'Forget cached OAuth2 tokens: all of them, or the one NAME (as `auth list` shows it); the next run fetches new ones'
            cand delete 'Delete a stored secret (exit status 1 when there was none)'
            cand login 'Log in with OAuth2 in a browser (authorization code + PKCE) and store the refresh token as NAME'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'pytopus;auth;set'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'pytopus;auth;list'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pytopus;auth;logout'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pytopus;auth;delete'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pytopus;auth;login'= {
            cand --authorize-url 'The authorization endpoint the browser opens (default: the connector''s)'
            cand --token-url 'The token endpoint the code is exchanged at (default: the connector''s)'
            cand --client-id 'The OAuth2 client id (default: the connector''s)'
            cand --client-secret-from 'Name of the secret holding the client secret (confidential clients)'
            cand --scope 'Scopes to ask for (space-separated, as the server expects)'
            cand --port 'Port of the redirect listener on 127.0.0.1 (0 picks a free one; register the redirect URI with your provider)'
            cand --wait 'How long to wait for the browser'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'pytopus;auth;help'= {
            cand set 'Store a secret: a hidden prompt on a terminal, else standard input'
            cand list 'List the names of the stored secrets, one a line (never their values); cached OAuth2 tokens are listed apart on stderr'
            cand logout 'Forget cached OAuth2 tokens: all of them, or the one NAME (as `auth list` shows it); the next run fetches new ones'
            cand delete 'Delete a stored secret (exit status 1 when there was none)'
            cand login 'Log in with OAuth2 in a browser (authorization code + PKCE) and store the refresh token as NAME'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'pytopus;auth;help;set'= {
        }
        &'pytopus;auth;help;list'= {
        }
        &'pytopus;auth;help;logout'= {
        }
        &'pytopus;auth;help;delete'= {
        }
        &'pytopus;auth;help;login'= {
        }
        &'pytopus;auth;help;help'= {
        }
        &'pytopus;completions'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pytopus;man'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'pytopus;help'= {
            cand run 'Run a chain file and print its result on stdout'
            cand validate 'Check chain files without sending anything'
            cand fmt 'Rewrite chain files in canonical form and stamp `last_modified` when their content changed'
            cand history 'List recent runs, or show one (`history show ID`)'
            cand connectors 'Reusable API definitions: list, show, test, create and import connectors'
            cand serve 'Serve chains over HTTP: webhooks, an API for scripts and agents, and schedules'
            cand import 'Turn a request written for another tool into a chain (`import curl ''curl …''`)'
            cand schema 'Print the JSON Schema of chain files (for editors and the YAML language server)'
            cand inputs 'Print a chain''s declared inputs and outputs (what a caller gives it and gets back)'
            cand auth 'Manage the secrets kept in the OS keyring (chains read them with `secret("NAME")`)'
            cand completions 'Print a shell completion script'
            cand man 'Print a manual page (roff): `pytopus man run | man -l -`; the pages are also in the source''s man/'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'pytopus;help;run'= {
        }
        &'pytopus;help;validate'= {
        }
        &'pytopus;help;fmt'= {
        }
        &'pytopus;help;history'= {
            cand show 'Print one run''s report (JSON, as `--report` writes it)'
        }
        &'pytopus;help;history;show'= {
        }
        &'pytopus;help;connectors'= {
            cand list 'List the connectors pytopus can find: ./connectors, your config directory, the built-ins'
            cand show 'Show a connector: base URL, auth, rate limit, and each endpoint with its parameters'
            cand test 'Send the connector''s `test` request: does auth work, what do the rate-limit headers say'
            cand new 'Write a new connector file, asking for what is not given as a flag'
            cand import 'Turn an OpenAPI 3.x document (YAML or JSON) into a connector file'
        }
        &'pytopus;help;connectors;list'= {
        }
        &'pytopus;help;connectors;show'= {
        }
        &'pytopus;help;connectors;test'= {
        }
        &'pytopus;help;connectors;new'= {
        }
        &'pytopus;help;connectors;import'= {
        }
        &'pytopus;help;serve'= {
        }
        &'pytopus;help;import'= {
            cand curl 'Turn a curl command (as "Copy as cURL" in a browser writes it, bash or Windows cmd) into a chain, printed as YAML'
        }
        &'pytopus;help;import;curl'= {
        }
        &'pytopus;help;schema'= {
        }
        &'pytopus;help;inputs'= {
        }
        &'pytopus;help;auth'= {
            cand set 'Store a secret: a hidden prompt on a terminal, else standard input'
            cand list 'List the names of the stored secrets, one a line (never their values); cached OAuth2 tokens are listed apart on stderr'
            cand logout 'Forget cached OAuth2 tokens: all of them, or the one NAME (as `auth list` shows it); the next run fetches new ones'
            cand delete 'Delete a stored secret (exit status 1 when there was none)'
            cand login 'Log in with OAuth2 in a browser (authorization code + PKCE) and store the refresh token as NAME'
        }
        &'pytopus;help;auth;set'= {
        }
        &'pytopus;help;auth;list'= {
        }
        &'pytopus;help;auth;logout'= {
        }
        &'pytopus;help;auth;delete'= {
        }
        &'pytopus;help;auth;login'= {
        }
        &'pytopus;help;completions'= {
        }
        &'pytopus;help;man'= {
        }
        &'pytopus;help;help'= {
        }
    ]
    $completions[$command]
}
