curl --json '{"ping":true,"n":[1,2,3]}' https://api.example.com/v1/echo -k -L --compressed -i --http1.1
