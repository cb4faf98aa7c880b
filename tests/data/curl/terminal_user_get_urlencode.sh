curl -sS -u 'admin:Pa55w0rd!' https://api.example.net/v1/search \
  -G --data-urlencode 'q=status all & more' -d verbose=1 -H "Accept: application/json"
