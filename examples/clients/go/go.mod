module example.com/sagactl-client

go 1.21
