curl ^"https://api.example.com/v1/items/9^" ^
  -X ^"PATCH^" ^
  -H ^"accept: application/json^" ^
  -H ^"content-type: application/json^" ^
  -H ^"x-api-key: ak_test_7c9e6679f42540de8e0f5a3b^" ^
  -H ^"user-agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36^" ^
  --data-raw ^"^{^\^"price^\^":19.99,^\^"name^\^":^\^"Mug (large)^\^"^}^"
