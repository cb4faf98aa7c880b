curl ^"https://api.example.com/v1/search?q=caf^%^C3^%^A9^&limit=10^" ^
  -H ^"accept: application/json^" ^
  -H ^"accept-language: fr-FR,fr;q=0.9^" ^
  -H ^"sec-ch-ua: ^\^"Chromium^\^";v=^\^"124^\^", ^\^"Google Chrome^\^";v=^\^"124^\^"^" ^
  -H ^"sec-ch-ua-platform: ^\^"Windows^\^"^" ^
  -H ^"user-agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36^"
