
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
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve chains over HTTP: webhooks, an API for scripts and agents, and schedules')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema of chain files (for editors and the YAML language server)')
            [CompletionResult]::new('auth', 'auth', [CompletionResultType]::ParameterValue, 'Manage the secrets kept in the OS keyring (chains read them with `secret("NAME")`)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'pytopus;run' {
            [CompletionResult]::new('--var', '--var', [CompletionResultType]::ParameterName, 'Set a variable (repeatable); overrides `vars:` and --vars-file')
            [CompletionResult]::new('--vars-file', '--vars-file', [CompletionResultType]::ParameterName, 'Read variables from a JSON or YAML file (a map of name → value)')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'Write a JSON report of the run (requests, statuses, timings, outputs, errors) to F')
            [CompletionResult]::new('--record', '--record', [CompletionResultType]::ParameterName, 'Save every request and response to the tape F')
            [CompletionResult]::new('--replay', '--replay', [CompletionResultType]::ParameterName, 'Answer every request from the tape F instead of the network')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print the result on stdout')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Run the chain once per row of F (CSV with a header row, JSON array of objects, or JSON Lines)')
            [CompletionResult]::new('--parallel', '--parallel', [CompletionResultType]::ParameterName, 'With --data: run at most N rows at once')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Run only shard K of N: the --data rows (or else the `for_each` items) whose 0-based index i has i mod N = K-1')
            [CompletionResult]::new('--every', '--every', [CompletionResultType]::ParameterName, 'Run the chain again every DURATION until interrupted')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Render and print every request, send none')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more: request and response headers for each step')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more: request and response headers for each step')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show nothing on stderr but errors')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print one plain line per step even on a terminal')
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
        'pytopus;serve' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address and port to listen on')
            [CompletionResult]::new('--token-from-secret', '--token-from-secret', [CompletionResultType]::ParameterName, 'Read the API token from the secret NAME (else from PYTOPUS_SERVE_TOKEN)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr: one line per request and per run')
            [CompletionResult]::new('--max-body', '--max-body', [CompletionResultType]::ParameterName, 'Largest request body accepted (bytes, or with KiB/MiB); larger gets 413')
            [CompletionResult]::new('--shutdown-timeout', '--shutdown-timeout', [CompletionResultType]::ParameterName, 'On SIGTERM or Ctrl-C, how long running chains may take to finish before they are interrupted')
            [CompletionResult]::new('--allow-remote', '--allow-remote', [CompletionResultType]::ParameterName, 'Allow listening on an address other than loopback (an API token is then required)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'pytopus;schema' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pytopus;auth' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Store a secret: a hidden prompt on a terminal, else standard input')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the names of the stored secrets, one a line (never their values)')
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
        'pytopus;auth;delete' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'pytopus;auth;login' {
            [CompletionResult]::new('--authorize-url', '--authorize-url', [CompletionResultType]::ParameterName, 'The authorization endpoint the browser opens')
            [CompletionResult]::new('--token-url', '--token-url', [CompletionResultType]::ParameterName, 'The token endpoint the code is exchanged at')
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'The OAuth2 client id')
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
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the names of the stored secrets, one a line (never their values)')
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
        'pytopus;help' {
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run a chain file and print its result on stdout')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check chain files without sending anything')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve chains over HTTP: webhooks, an API for scripts and agents, and schedules')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema of chain files (for editors and the YAML language server)')
            [CompletionResult]::new('auth', 'auth', [CompletionResultType]::ParameterValue, 'Manage the secrets kept in the OS keyring (chains read them with `secret("NAME")`)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'pytopus;help;run' {
            break
        }
        'pytopus;help;validate' {
            break
        }
        'pytopus;help;serve' {
            break
        }
        'pytopus;help;schema' {
            break
        }
        'pytopus;help;auth' {
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Store a secret: a hidden prompt on a terminal, else standard input')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the names of the stored secrets, one a line (never their values)')
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
        'pytopus;help;auth;delete' {
            break
        }
        'pytopus;help;auth;login' {
            break
        }
        'pytopus;help;completions' {
            break
        }
        'pytopus;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
