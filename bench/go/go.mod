module tasktrace/bench/go

go 1.19
