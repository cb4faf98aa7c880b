curl 'https://api.example.com/v1/reports' \
  -H 'accept: */*' \
  -H 'content-type: multipart/form-data; boundary=----WebKitFormBoundaryq3Xz9T0aB1cD2eF3' \
  -H 'origin: https://app.example.com' \
  -H 'user-agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36' \
  --data-raw $'------WebKitFormBoundaryq3Xz9T0aB1cD2eF3\r\nContent-Disposition: form-data; name="title"\r\n\r\nQuarterly report\r\n------WebKitFormBoundaryq3Xz9T0aB1cD2eF3\r\nContent-Disposition: form-data; name="year"\r\n\r\n2024\r\n------WebKitFormBoundaryq3Xz9T0aB1cD2eF3--\r\n'
