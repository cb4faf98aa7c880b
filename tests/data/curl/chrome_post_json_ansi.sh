curl 'https://api.example.com/v1/notes' \
  -H 'accept: */*' \
  -H 'content-type: application/json' \
  -H 'origin: https://notes.example.com' \
  -H 'user-agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36' \
  --data-raw $'{"title":"It\'s done","body":"first line\\nsecond line","tags":["{{not a template}}"]}'
