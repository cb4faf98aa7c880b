curl ^"https://api.example.com/v1/messages^" ^
  -H ^"content-type: text/plain;charset=UTF-8^" ^
  -H ^"user-agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36^" ^
  --data-raw ^"Dear team,^

50^% off ^<today^> ^& tomorrow ^| ^\^"quoted^\^" (really)^

^!bye^"
