curl 'https://api.example.com/v1/projects/7f3c2a/members/42' \
  -X 'DELETE' \
  -H 'accept: application/json' \
  -H 'authorization: Token 4f9d2c7a81b34e6f90a1c2d3e4f5a6b7' \
  -H 'origin: https://app.example.com' \
  -H 'referer: https://app.example.com/' \
  -H 'user-agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'
