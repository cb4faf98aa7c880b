curl 'https://app.example.com/settings/profile' \
  -X 'PUT' \
  -H 'accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' \
  -H 'cache-control: max-age=0' \
  -H 'content-type: application/x-www-form-urlencoded' \
  -H 'origin: https://app.example.com' \
  -H 'referer: https://app.example.com/settings/profile' \
  -H 'upgrade-insecure-requests: 1' \
  -H 'user-agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36' \
  --data-raw 'display_name=Ada+Lovelace&tags=math&tags=engines&bio=Analyst%2C+writer'
