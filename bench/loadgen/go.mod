module celgate.invalid/bench/loadgen

go 1.22
