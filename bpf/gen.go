package bpf

// The generated steer_bpfel.go and steer_bpfel.o are committed so that
// `go build` never needs clang; `make generate` (go generate ./bpf) rebuilds
// them from steer.c.
//go:generate go tool bpf2go -tags linux -target bpfel -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu" steer steer.c
