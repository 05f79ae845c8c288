package tcp_test

import (
	"io"
	"testing"
)

// BenchmarkMemTransfer streams 64 KiB writes between two engines over the in-memory link
// (two engine goroutines, a writer and a reader: whole-stack throughput and allocations).
func BenchmarkMemTransfer(b *testing.B) {
	t := &testing.T{}
	p := newPair(t, nil)
	defer func() { p.cancel(); p.wg.Wait() }()
	cl, sv := p.connect(t, 3260)
	buf := make([]byte, 64<<10)
	done := make(chan error, 1)
	go func() {
		rb := make([]byte, 256<<10)
		_, err := io.CopyBuffer(io.Discard, onlyReader{sv}, rb)
		done <- err
	}()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := cl.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	cl.CloseWrite()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }
