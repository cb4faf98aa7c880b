curl 'https://www.example.com/api/cart?currency=EUR' \
  -H 'authority: www.example.com' \
  -H 'accept: application/json' \
  -H 'accept-language: de-DE,de;q=0.9,en;q=0.8' \
  -H 'cookie: lang=de; consent=yes; JSESSIONID=1A2B3C4D5E6F7A8B9C0D1E2F3A4B5C6D' \
  -H 'referer: https://www.example.com/cart' \
  -H 'sec-fetch-mode: cors' \
  -H 'user-agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/108.0.0.0 Safari/537.36' \
  -H 'x-requested-with: XMLHttpRequest' \
  --compressed
