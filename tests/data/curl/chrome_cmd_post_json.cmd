curl ^"https://auth.example.com/api/login^" ^
  -H ^"accept: application/json^" ^
  -H ^"content-type: application/json^" ^
  -H ^"origin: https://auth.example.com^" ^
  -H ^"user-agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36^" ^
  --data-raw ^"^{^\^"email^\^":^\^"ann^@example.com^\^",^\^"password^\^":^\^"hunter2-hunter2^\^",^\^"remember^\^":true^}^"
