curl --head 'https://cdn.example.com/assets/app.js' -H 'If-None-Match: "a1b2c3"' -A 'my-script/1.0' -e 'https://www.example.com/'
