package target

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/scsi"
)

// recordingMover stands in for an RDMA data mover: it records what the connection asks of it.
type recordingMover struct {
	getDataOut, putDataIn atomic.Int32
	lastITT               atomic.Uint32
	lastStatus            atomic.Uint32
}

func (m *recordingMover) GetDataOut(t *Task) { m.getDataOut.Add(1) }
func (m *recordingMover) PutDataIn(t *Task) {
	st, _ := t.Status()
	m.lastITT.Store(t.ITT())
	m.lastStatus.Store(uint32(st))
	m.putDataIn.Add(1)
}

// moverTransport is a TCP transport that brings its own data mover (as iSER does).
type moverTransport struct {
	*TCPTransport
	m *recordingMover
}

func (t moverTransport) DataMover() DataMover { return t.m }

// TestDataMoverSeam checks that a Transport providing a DataMover receives the task data movement: a write that
// needs more data calls GetDataOut, a finished command calls PutDataIn with its status.
func TestDataMoverSeam(t *testing.T) {
	srv, _ := newTestServer(t, Config{}, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m := &recordingMover{}
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		srv.ServeTransport(moverTransport{NewTCPTransport(nc), m}, nc)
	}()
	c, err := dialRaw(t, l.Addr().String(), login.InitiatorConfig{TargetName: testIQN}, 31)
	if err != nil {
		t.Fatal(err)
	}
	itt := c.scsi([]byte{0, 0, 0, 0, 0, 0}, false, 0, nil)            // TEST UNIT READY: first contact, CHECK CONDITION
	c.scsi([]byte{0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0}, false, 4096, nil) // WRITE(10) with no data sent yet
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && (m.putDataIn.Load() < 1 || m.getDataOut.Load() < 1) {
		time.Sleep(5 * time.Millisecond)
	}
	if m.putDataIn.Load() != 1 || m.lastITT.Load() != itt || scsi.Status(m.lastStatus.Load()) != scsi.CheckCondition {
		t.Fatalf("PutDataIn calls %d, last ITT %#x status %#x; want 1 call for ITT %#x with CHECK CONDITION",
			m.putDataIn.Load(), m.lastITT.Load(), m.lastStatus.Load(), itt)
	}
	if m.getDataOut.Load() != 1 {
		t.Fatalf("GetDataOut calls %d, want 1", m.getDataOut.Load())
	}
}
