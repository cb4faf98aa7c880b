curl 'https://files.example.com/v1/docs/readme.txt' \
-X 'PUT' \
-H 'Content-Type: text/plain;charset=UTF-8' \
-H 'Accept: */*' \
-H 'Origin: https://files.example.com' \
-H 'User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15' \
--data-binary $'line one\nline two with \'quotes\' and "double"\n\ttabbed\n'
