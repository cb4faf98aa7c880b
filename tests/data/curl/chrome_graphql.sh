curl 'https://api.example.com/graphql' \
  -H 'accept: application/graphql-response+json, application/json' \
  -H 'content-type: application/json' \
  -H 'origin: https://app.example.com' \
  -H 'user-agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36' \
  --data-raw $'{"query":"query User($id: ID\u0021) { user(id: $id) { name email } }","variables":{"id":"42"},"operationName":"User"}'
