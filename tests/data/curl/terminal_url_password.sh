curl -X POST 'https://deploy:t0ps3cret-hook@ci.example.com/hooks/build?branch=main' -H 'Content-Type: text/plain' --data-binary 'go'
