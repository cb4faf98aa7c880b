
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'pytopus' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'pytopus'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'pytopus' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run a chain file and print its result on stdout')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check chain files without sending anything')
            [CompletionResult]::new('fmt', 'fmt', [CompletionResultType]::ParameterValue, 'Rewrite chain files in canonical form and stamp `last_modified` when their content changed')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'List recent runs, or show one (`history show ID`)')
            [CompletionResult]::new('connectors', 'connectors', [CompletionResultType]::ParameterValue, 'Reusable API definitions: list, show, test, create and import connectors')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve chains over HTTP: webhooks, an API for scripts and agents, and schedules')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Turn a request written for another tool into a chain (`import curl ''curl …''`)')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema of chain files (for editors and the YAML language server)')
            [CompletionResult]::new('inputs', 'inputs', [CompletionResultType]::ParameterValue, 'Print a chain''s declared inputs and outputs (what a caller gives it and gets back)')
            [CompletionResult]::new('auth', 'auth', [CompletionResultType]::ParameterValue, 'Manage the secrets kept in the OS keyring (chains read them with `secret("NAME")`)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print a manual page (roff): `pytopus man run | man -l -`; the pages are also in the source''s man/')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'pytopus;run' {
            [CompletionResult]::new('--var', '--var', [CompletionResultType]::ParameterName, 'Set a variable (repeatable); overrides `vars:` and --vars-file')
            [CompletionResult]::new('--vars-file', '--vars-file', [CompletionResultType]::ParameterName, 'Read variables from a JSON or YAML file (a map of name → value)')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'Write a JSON report of the run (requests, statuses, timings, outputs, errors) to F')
            [CompletionResult]::new('--metrics', '--metrics', [CompletionResultType]::ParameterName, 'Write Prometheus metrics of the run to F (text format, for node_exporter''s textfile collector)')
            [CompletionResult]::new('--pushgateway', '--pushgateway', [CompletionResultType]::ParameterName, 'Push the same metrics to the Prometheus Pushgateway at URL when the run ends')
            [CompletionResult]::new('--junit', '--junit', [CompletionResultType]::ParameterName, 'Write a JUnit XML report (a test suite per run, a test case per step) to F')
            [CompletionResult]::new('--har', '--har', [CompletionResultType]::ParameterName, 'Write every request and response (each retry, item and page) to F as a HAR 1.2 archive')
            [CompletionResult]::new('--record', '--record', [CompletionResultType]::ParameterName, 'Save every request and response to the tape F')
            [CompletionResult]::new('--replay', '--replay', [CompletionResultType]::ParameterName, 'Answer every request from the tape F instead of the network')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print the result on stdout')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Send this header with every request (''Name: value'', as curl''s -H), replacing a header of the same name the chain sets; repeatable')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Send this header with every request (''Name: value'', as curl''s -H), replacing a header of the same name the chain sets; repeatable')
            [CompletionResult]::new('--step', '--step', [CompletionResultType]::ParameterName, 'Run only this step, reusing the results of the steps before it from the last recorded run of this chain')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Start at this step, reusing the results of the steps before it from the last recorded run of this chain')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Stop after this step; the result printed is its result, and `finally` steps do not run')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Run the chain once per row of F (CSV with a header row, JSON array of objects, or JSON Lines)')
            [CompletionResult]::new('--parallel', '--parallel', [CompletionResultType]::ParameterName, 'With --data: run at most N rows at once')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Run only shard K of N: the --data rows (or else the `for_each` items) whose 0-based index i has i mod N = K-1')
            [CompletionResult]::new('--every', '--every', [CompletionResultType]::ParameterName, 'Run the chain again every DURATION until interrupted')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Render and print every request, send none')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each request and response: -v the request and status lines, -vv also headers, -vvv also bodies (cut at 2 KiB, with the size); secrets redacted')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each request and response: -v the request and status lines, -vv also headers, -vvv also bodies (cut at 2 KiB, with the size); secrets redacted')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show nothing on stderr but errors')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print one plain line per step even on a terminal')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Do not check TLS certificates (like curl -k); says so on stderr. Prefer `tls: {ca_cert}` for a private CA')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check TLS certificates (like curl -k); says so on stderr. Prefer `tls: {ca_cert}` for a private CA')
            [CompletionResult]::new('--curl', '--curl', [CompletionResultType]::ParameterName, 'Print each request on stderr as a curl command that sends it; secrets as $PYTOPUS_SECRET_* references')
            [CompletionResult]::new('--no-history', '--no-history', [CompletionResultType]::ParameterName, 'Do not record this run in the history (also PYTOPUS_HISTORY=off)')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Rerun the last failed run of this chain from its failed step, reusing the results recorded before it')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'With --resume: resume even though the chain file changed since that run')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'Run again whenever the chain or a file it reads changes (sub-chains, connectors, vars and data files), until Ctrl-C')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'pytopus;validate' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'How `--graph` is printed: `text`, or `dot` for Graphviz (`| dot -Tsvg > graph.svg`)')
            [CompletionResult]::new('--var', '--var', [CompletionResultType]::ParameterName, 'Set a variable (repeatable); overrides `vars:` and --vars-file')
            [CompletionResult]::new('--vars-file', '--vars-file', [CompletionResultType]::ParameterName, 'Read variables from a JSON or YAML file (a map of name → value)')
            [CompletionResult]::new('--graph', '--graph', [CompletionResultType]::ParameterName, 'Print which steps wait for which (the order `parallel: auto` runs them in) on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'pytopus;fmt' {
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Change nothing; exit 1 if a file would be rewritten (for CI)')
            [CompletionResult]::new('--drop-comments', '--drop-comments', [CompletionResultType]::ParameterName, 'Format YAML files that have comments, which the rewrite loses')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pytopus;history' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'How many runs to list')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print one run''s report (JSON, as `--report` writes it)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'pytopus;history;show' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pytopus;history;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print one run''s report (JSON, as `--report` writes it)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'pytopus;history;help;show' {
            break
        }
        'pytopus;history;help;help' {
            break
        }
        'pytopus;connectors' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the connectors pytopus can find: ./connectors, your config directory, the built-ins')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a connector: base URL, auth, rate limit, and each endpoint with its parameters')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Send the connector''s `test` request: does auth work, what do the rate-limit headers say')
            [CompletionResult]::new('new', 'new', [CompletionResultType]::ParameterValue, 'Write a new connector file, asking for what is not given as a flag')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Turn an OpenAPI 3.x document (YAML or JSON) into a connector file')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'pytopus;connectors;list' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pytopus;connectors;show' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pytopus;connectors;test' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pytopus;connectors;new' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Connector name: lowercase letters, digits, `_` and `-`, starting with a letter')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'The API''s base URL, e.g. https://api.example.com/v1')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'How requests authenticate')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where to write it (default: connectors/NAME.yaml)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Where to write it (default: connectors/NAME.yaml)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace the file if it exists')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'pytopus;connectors;import' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Connector name (default: from the document''s title)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'The API''s address, when the document''s server URL is relative (`/api/v3` is then appended to it) or to replace the document''s server')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where to write it (default: connectors/NAME.yaml; `-` for stdout)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Where to write it (default: connectors/NAME.yaml; `-` for stdout)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace the file if it exists')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pytopus;connectors;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the connectors pytopus can find: ./connectors, your config directory, the built-ins')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a connector: base URL, auth, rate limit, and each endpoint with its parameters')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Send the connector''s `test` request: does auth work, what do the rate-limit headers say')
            [CompletionResult]::new('new', 'new', [CompletionResultType]::ParameterValue, 'Write a new connector file, asking for what is not given as a flag')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Turn an OpenAPI 3.x document (YAML or JSON) into a connector file')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'pytopus;connectors;help;list' {
            break
        }
        'pytopus;connectors;help;show' {
            break
        }
        'pytopus;connectors;help;test' {
            break
        }
        'pytopus;connectors;help;new' {
            break
        }
        'pytopus;connectors;help;import' {
            break
        }
        'pytopus;connectors;help;help' {
            break
        }
        'pytopus;serve' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address and port to listen on')
            [CompletionResult]::new('--token-from-secret', '--token-from-secret', [CompletionResultType]::ParameterName, 'Read the API token from the secret NAME (else from PYTOPUS_SERVE_TOKEN)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr: one line per request and per run')
            [CompletionResult]::new('--max-body', '--max-body', [CompletionResultType]::ParameterName, 'Largest request body accepted (bytes, or with KiB/MiB); larger gets 413')
            [CompletionResult]::new('--shutdown-timeout', '--shutdown-timeout', [CompletionResultType]::ParameterName, 'On SIGTERM or Ctrl-C, how long running chains may take to finish before they are interrupted')
            [CompletionResult]::new('--allow-host', '--allow-host', [CompletionResultType]::ParameterName, 'Also answer to this host name on a loopback address (a tunnel''s or proxy''s), repeatable')
            [CompletionResult]::new('--allow-remote', '--allow-remote', [CompletionResultType]::ParameterName, 'Allow listening on an address other than loopback (an API token is then required)')
            [CompletionResult]::new('--no-history', '--no-history', [CompletionResultType]::ParameterName, 'Do not record the served runs in the history (also PYTOPUS_HISTORY=off)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'pytopus;import' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('curl', 'curl', [CompletionResultType]::ParameterValue, 'Turn a curl command (as "Copy as cURL" in a browser writes it, bash or Windows cmd) into a chain, printed as YAML')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'pytopus;import;curl' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The step''s name (default: from the method and the URL''s path, e.g. `PostUsers`)')
            [CompletionResult]::new('--shell', '--shell', [CompletionResultType]::ParameterName, 'The shell the command was copied for (default: guessed; `^` line ends and `^"` say cmd)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'pytopus;import;help' {
            [CompletionResult]::new('curl', 'curl', [CompletionResultType]::ParameterValue, 'Turn a curl command (as "Copy as cURL" in a browser writes it, bash or Windows cmd) into a chain, printed as YAML')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'pytopus;import;help;curl' {
            break
        }
        'pytopus;import;help;help' {
            break
        }
        'pytopus;schema' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pytopus;inputs' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, '`text` (a table) or `json-schema` (one JSON Schema of the inputs, and one of the outputs, for tools)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pytopus;auth' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Store a secret: a hidden prompt on a terminal, else standard input')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the names of the stored secrets, one a line (never their values); cached OAuth2 tokens are listed apart on stderr')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Forget cached OAuth2 tokens: all of them, or the one NAME (as `auth list` shows it); the next run fetches new ones')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a stored secret (exit status 1 when there was none)')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Log in with OAuth2 in a browser (authorization code + PKCE) and store the refresh token as NAME')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'pytopus;auth;set' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'pytopus;auth;list' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pytopus;auth;logout' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pytopus;auth;delete' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pytopus;auth;login' {
            [CompletionResult]::new('--authorize-url', '--authorize-url', [CompletionResultType]::ParameterName, 'The authorization endpoint the browser opens (default: the connector''s)')
            [CompletionResult]::new('--token-url', '--token-url', [CompletionResultType]::ParameterName, 'The token endpoint the code is exchanged at (default: the connector''s)')
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'The OAuth2 client id (default: the connector''s)')
            [CompletionResult]::new('--client-secret-from', '--client-secret-from', [CompletionResultType]::ParameterName, 'Name of the secret holding the client secret (confidential clients)')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'Scopes to ask for (space-separated, as the server expects)')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port of the redirect listener on 127.0.0.1 (0 picks a free one; register the redirect URI with your provider)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for the browser')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'pytopus;auth;help' {
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Store a secret: a hidden prompt on a terminal, else standard input')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the names of the stored secrets, one a line (never their values); cached OAuth2 tokens are listed apart on stderr')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Forget cached OAuth2 tokens: all of them, or the one NAME (as `auth list` shows it); the next run fetches new ones')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a stored secret (exit status 1 when there was none)')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Log in with OAuth2 in a browser (authorization code + PKCE) and store the refresh token as NAME')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'pytopus;auth;help;set' {
            break
        }
        'pytopus;auth;help;list' {
            break
        }
        'pytopus;auth;help;logout' {
            break
        }
        'pytopus;auth;help;delete' {
            break
        }
        'pytopus;auth;help;login' {
            break
        }
        'pytopus;auth;help;help' {
            break
        }
        'pytopus;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pytopus;man' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pytopus;help' {
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run a chain file and print its result on stdout')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check chain files without sending anything')
            [CompletionResult]::new('fmt', 'fmt', [CompletionResultType]::ParameterValue, 'Rewrite chain files in canonical form and stamp `last_modified` when their content changed')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'List recent runs, or show one (`history show ID`)')
            [CompletionResult]::new('connectors', 'connectors', [CompletionResultType]::ParameterValue, 'Reusable API definitions: list, show, test, create and import connectors')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve chains over HTTP: webhooks, an API for scripts and agents, and schedules')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Turn a request written for another tool into a chain (`import curl ''curl …''`)')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema of chain files (for editors and the YAML language server)')
            [CompletionResult]::new('inputs', 'inputs', [CompletionResultType]::ParameterValue, 'Print a chain''s declared inputs and outputs (what a caller gives it and gets back)')
            [CompletionResult]::new('auth', 'auth', [CompletionResultType]::ParameterValue, 'Manage the secrets kept in the OS keyring (chains read them with `secret("NAME")`)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print a manual page (roff): `pytopus man run | man -l -`; the pages are also in the source''s man/')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'pytopus;help;run' {
            break
        }
        'pytopus;help;validate' {
            break
        }
        'pytopus;help;fmt' {
            break
        }
        'pytopus;help;history' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print one run''s report (JSON, as `--report` writes it)')
            break
        }
        'pytopus;help;history;show' {
            break
        }
        'pytopus;help;connectors' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the connectors pytopus can find: ./connectors, your config directory, the built-ins')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a connector: base URL, auth, rate limit, and each endpoint with its parameters')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Send the connector''s `test` request: does auth work, what do the rate-limit headers say')
            [CompletionResult]::new('new', 'new', [CompletionResultType]::ParameterValue, 'Write a new connector file, asking for what is not given as a flag')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Turn an OpenAPI 3.x document (YAML or JSON) into a connector file')
            break
        }
        'pytopus;help;connectors;list' {
            break
        }
        'pytopus;help;connectors;show' {
            break
        }
        'pytopus;help;connectors;test' {
            break
        }
        'pytopus;help;connectors;new' {
            break
        }
        'pytopus;help;connectors;import' {
            break
        }
        'pytopus;help;serve' {
            break
        }
        'pytopus;help;import' {
            [CompletionResult]::new('curl', 'curl', [CompletionResultType]::ParameterValue, 'Turn a curl command (as "Copy as cURL" in a browser writes it, bash or Windows cmd) into a chain, printed as YAML')
            break
        }
        'pytopus;help;import;curl' {
            break
        }
        'pytopus;help;schema' {
            break
        }
        'pytopus;help;inputs' {
            break
        }
        'pytopus;help;auth' {
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Store a secret: a hidden prompt on a terminal, else standard input')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the names of the stored secrets, one a line (never their values); cached OAuth2 tokens are listed apart on stderr')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Forget cached OAuth2 tokens: all of them, or the one NAME (as `auth list` shows it); the next run fetches new ones')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a stored secret (exit status 1 when there was none)')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Log in with OAuth2 in a browser (authorization code + PKCE) and store the refresh token as NAME')
            break
        }
        'pytopus;help;auth;set' {
            break
        }
        'pytopus;help;auth;list' {
            break
        }
        'pytopus;help;auth;logout' {
            break
        }
        'pytopus;help;auth;delete' {
            break
        }
        'pytopus;help;auth;login' {
            break
        }
        'pytopus;help;completions' {
            break
        }
        'pytopus;help;man' {
            break
        }
        'pytopus;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
