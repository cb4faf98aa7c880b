#!/usr/bin/env bash
# `pytopus mcp` against real MCP clients (not run by `cargo test` or CI):
# the official Python SDK (`mcp` on PyPI) and the MCP Inspector's CLI mode
# (`@modelcontextprotocol/inspector`) connect over stdio, list the tools and
# call one against a local JSON server; a canary secret must appear in no
# byte either client receives.
#
#   bench/peers/mcp_clients.sh [PYTOPUS_BIN]
#
# Clients: MCP_PYTHON (a python with `mcp` installed) and MCP_INSPECTOR (the
# inspector's binary); by default those /work/shared/peers/clients.sh installs
# under $PEERS (/tmp/pytopus-peers).
set -euo pipefail
BIN=$(realpath "${1:-target/debug/pytopus}")
PEERS=${PEERS:-/tmp/pytopus-peers}
PY=${MCP_PYTHON:-$PEERS/mcp-venv/bin/python}
INSPECTOR=${MCP_INSPECTOR:-$PEERS/clients/node_modules/.bin/mcp-inspector}
CANARY=canary-peer-5e1d7a
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT

# A JSON server on loopback: GET /users/7 answers a user (and echoes the
# Authorization header, so a leak would show).
cat > "$WORK/server.py" <<'PY'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"id": 7, "name": "Ada", "echo": self.headers.get("Authorization", "")}).encode()
        self.send_response(200 if self.path == "/users/7" else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_port, flush=True)
s.serve_forever()
PY
python3 "$WORK/server.py" > "$WORK/port" & SERVER=$!
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")
mkdir "$WORK/chains"
cat > "$WORK/chains/get_user.yaml" <<YAML
name: Get user
description: Fetches a user's name by id.
vars: {base: "http://127.0.0.1:$PORT"}
inputs:
  user_id: {type: integer, minimum: 1}
outputs:
  name: {type: string}
steps:
  - name: U
    url: "{{ base }}/users/{{ user_id }}"
    auth: {type: bearer, token: "{{ secret('peer_token') }}"}
output: {name: "{{ U.name }}"}
YAML
export PYTOPUS_SECRET_PEER_TOKEN=$CANARY PYTOPUS_HISTORY=off
fail=0

echo "== Python SDK over stdio"
cat > "$WORK/client.py" <<'PY'
import asyncio, json, os, sys
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
async def session(r, w):
    async with ClientSession(r, w) as s:
        init = await s.initialize()
        tools = await s.list_tools()
        res = await s.call_tool("get_user", {"user_id": 7})
        bad = await s.call_tool("get_user", {"user_id": 7, "base": "http://evil.test"})
        dump = lambda m: m.model_dump(mode="json", by_alias=True, exclude_none=True)
        print(json.dumps({
            "protocol": dump(init)["protocolVersion"],
            "tools": [dump(t) for t in tools.tools],
            "result": dump(res),
            "unknown_arg": dump(bad),
        }))
async def main(where, arg):
    if where == "stdio":
        params = StdioServerParameters(command=arg[0], args=["mcp", arg[1]], env=dict(os.environ))
        async with stdio_client(params) as (r, w):
            await session(r, w)
    else:
        try:
            import httpx2 as httpx  # mcp >= 2
        except ImportError:
            import httpx
        from mcp.client.streamable_http import streamable_http_client
        token = os.environ.get("PYTOPUS_SERVE_TOKEN")
        headers = {"Authorization": "Bearer " + token} if token else {}
        async with httpx.AsyncClient(headers=headers) as http:
            async with streamable_http_client(arg[0], http_client=http) as streams:
                await session(streams[0], streams[1])
asyncio.run(main(sys.argv[1], sys.argv[2:]))
PY
check_py() {
  "$PY" - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
t = d["tools"][0]
assert t["name"] == "get_user" and t["inputSchema"]["properties"]["user_id"]["type"] == "integer", t
assert d["result"]["structuredContent"] == {"name": "Ada"}, d["result"]
assert d["result"]["isError"] is False
assert d["unknown_arg"]["isError"] is True
print("ok: protocol", d["protocol"], "| tools:", [x["name"] for x in d["tools"]], "| result:", d["result"]["structuredContent"])
PY
}
if "$PY" "$WORK/client.py" stdio "$BIN" "$WORK/chains" > "$WORK/py.json"; then
  check_py "$WORK/py.json" || fail=1
else
  echo "FAIL: the Python client did not finish"; fail=1
fi
grep -q "$CANARY" "$WORK/py.json" && { echo "FAIL: the secret reached the Python client"; fail=1; }

echo "== MCP Inspector CLI over stdio"
"$INSPECTOR" --cli -e "PYTOPUS_SECRET_PEER_TOKEN=$CANARY" -e PYTOPUS_HISTORY=off \
  "$BIN" mcp "$WORK/chains" --method tools/list > "$WORK/insp-list.json" || fail=1
"$INSPECTOR" --cli -e "PYTOPUS_SECRET_PEER_TOKEN=$CANARY" -e PYTOPUS_HISTORY=off \
  "$BIN" mcp "$WORK/chains" --method tools/call --tool-name get_user --tool-arg user_id=7 > "$WORK/insp-call.json" || fail=1
python3 - "$WORK/insp-list.json" "$WORK/insp-call.json" <<'PY' || fail=1
import json, sys
tools = json.load(open(sys.argv[1]))["tools"]
call = json.load(open(sys.argv[2]))
assert [t["name"] for t in tools] == ["get_user"], tools
assert call.get("structuredContent") == {"name": "Ada"}, call
print("ok: tools:", [t["name"] for t in tools], "| result:", call["structuredContent"])
PY
cat "$WORK"/insp-*.json | grep -q "$CANARY" && { echo "FAIL: the secret reached the Inspector"; fail=1; }

# `serve` on a free loopback port; $1: the API token, or empty for none.
start_serve() {
  SPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  PYTOPUS_SERVE_TOKEN=$1 "$BIN" serve --listen "127.0.0.1:$SPORT" "$WORK/chains" 2> "$WORK/serve.log" & SERVE=$!
  for _ in $(seq 50); do grep -q listening "$WORK/serve.log" 2>/dev/null && break; sleep 0.1; done
  URL="http://127.0.0.1:$SPORT/mcp"
}
trap 'kill $SERVER ${SERVE:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT

echo "== Python SDK and Inspector over streamable HTTP: pytopus serve, /mcp (loopback, no token)"
start_serve ""
if PYTOPUS_SERVE_TOKEN= "$PY" "$WORK/client.py" http "$URL" > "$WORK/py-http.json"; then
  check_py "$WORK/py-http.json" || fail=1
else
  echo "FAIL: the Python client over HTTP did not finish"; fail=1
fi
"$INSPECTOR" --cli "$URL" --transport http --method tools/list > "$WORK/insp-http-list.json" || fail=1
"$INSPECTOR" --cli "$URL" --transport http --method tools/call --tool-name get_user \
  --tool-arg user_id=7 > "$WORK/insp-http-call.json" || fail=1
python3 - "$WORK/insp-http-list.json" "$WORK/insp-http-call.json" <<'PY' || fail=1
import json, sys
tools = json.load(open(sys.argv[1]))["tools"]
call = json.load(open(sys.argv[2]))
assert [t["name"] for t in tools] == ["get_user"], tools
assert call.get("structuredContent") == {"name": "Ada"}, call
print("ok (inspector, http): tools:", [t["name"] for t in tools], "| result:", call["structuredContent"])
PY
kill $SERVE; wait $SERVE 2>/dev/null || true

echo "== Python SDK over HTTP with an API token (the Inspector CLI has no header option)"
TOKEN=peer-token-0123456789abcdef
start_serve "$TOKEN"
if PYTOPUS_SERVE_TOKEN=$TOKEN "$PY" "$WORK/client.py" http "$URL" > "$WORK/py-http-token.json"; then
  check_py "$WORK/py-http-token.json" || fail=1
else
  echo "FAIL: the Python client with the token did not finish"; fail=1
fi
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL" -H 'content-type: application/json' \
  -H 'accept: application/json, text/event-stream' -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}')
[ "$code" = 401 ] && echo "ok: /mcp without the token is refused (401)" || { echo "FAIL: /mcp without the token answered $code"; fail=1; }
cat "$WORK"/py-http*.json "$WORK"/insp-http-*.json | grep -q "$CANARY" && { echo "FAIL: the secret reached an HTTP client"; fail=1; }
kill $SERVE; wait $SERVE 2>/dev/null || true

[ $fail = 0 ] && echo "PASS" || { echo "FAILED"; exit 1; }
