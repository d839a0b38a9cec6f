module go_goroutines

go 1.19
