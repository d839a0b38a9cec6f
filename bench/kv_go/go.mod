module tasktrace/bench/kv_go

go 1.19
