//! `pytopus mcp`: the chains loaded as `serve` loads them, then offered as
//! MCP tools on stdio (or listed with `--list`).

use std::sync::Arc;

use super::args::McpArgs;
use super::fail::{Fail, Outcome};
use super::{Exit, print_stdout};
use crate::mcp::{ChainTool, Options, Server};
use crate::secret::Redactor;
use crate::session::secrets_for_run;
use crate::transport::{LiveOptions, LiveTransport};

pub async fn mcp(args: McpArgs) -> Outcome {
    let redactor = Redactor::default();
    let secrets = secrets_for_run(&redactor);
    let mut tools: Vec<ChainTool> = super::serve::load_all(&args.paths, &secrets, true)?
        .into_iter()
        .map(|c| ChainTool {
            name: c.route,
            chain: c.chain,
            endpoint: None,
        })
        .collect();
    tools.extend(connector_tools(&args.connectors)?);
    let mut seen = std::collections::HashSet::new();
    for t in &tools {
        if !seen.insert(t.name.clone()) {
            return Err(Fail::usage(format!(
                "two tools would be named `{}`; rename the chain file",
                t.name
            )));
        }
    }
    let opts = Options {
        read_only: args.read_only,
        max_concurrent: usize::from(args.max_concurrent),
        max_calls_per_minute: args.max_calls_per_minute as usize,
        max_result_bytes: args.max_result_size,
        history: !args.no_history && crate::history::enabled_by_env(),
    };
    if args.list {
        let listed = crate::mcp::listed(&tools, &opts, &redactor);
        let text = serde_json::to_string_pretty(&serde_json::json!({ "tools": listed }))
            .unwrap_or_default();
        return print_stdout(&redactor.redact(&format!("{text}\n")));
    }
    let transport = LiveTransport::new(&LiveOptions::default())
        .map_err(|e| Fail::failed(format!("cannot start the HTTP client: {e}")))?;
    let server = Server {
        tools,
        opts,
        transport: Arc::new(transport),
        secrets,
        redactor,
    };
    crate::mcp::serve_stdio(server)
        .await
        .map_err(Fail::failed)?;
    Ok(Exit::Success)
}

/// `--connectors a,b`: every endpoint of each as a tool, described by a
/// one-step chain compiled as any chain is.
fn connector_tools(names: &[String]) -> Result<Vec<ChainTool>, Fail> {
    let library = crate::connector::Library::standalone();
    let mut tools = Vec::new();
    for name in names {
        let connector = library
            .get(name)
            .map_err(|d| Fail::from(crate::diagnostic::Diagnostics(d)))?;
        for endpoint in connector.file.endpoints.keys() {
            let chain = crate::mcp::endpoint_chain(&connector, endpoint, None)?;
            tools.push(ChainTool {
                name: crate::mcp::endpoint_tool_name(name, endpoint),
                chain,
                endpoint: Some((name.clone(), endpoint.clone())),
            });
        }
    }
    Ok(tools)
}
