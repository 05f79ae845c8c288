package target

import "github.com/xtgt/xtgt/iscsi/scsi"

// DataMover moves a task's data between the initiator and the task buffer, in the shape of LIO's
// iscsit_transport get_dataout / queue_data_in: on TCP (the default, tcpDataMover) GetDataOut sends R2Ts and the
// Data-Out PDUs arrive through the Transport, PutDataIn sends Data-In PDUs with the status phase-collapsed or a
// SCSI Response; on iSER (RFC 7145) GetDataOut is an RDMA Read and PutDataIn an RDMA Write followed by a SCSI
// Response Send. Calls come from the connection's goroutines: GetDataOut from the receive goroutine, PutDataIn from
// the goroutine that executed the task.
type DataMover interface {
	// GetDataOut asks for the write data of t that has not arrived yet (t.Received() < t.ExpectedLength()).
	GetDataOut(t *Task)
	// PutDataIn delivers t's read data (t.DataIn()) and its SCSI status, and releases t when done.
	PutDataIn(t *Task)
}

// DataMoverProvider is implemented by a Transport that moves task data itself (iSER); other transports get the
// TCP data mover.
type DataMoverProvider interface {
	DataMover() DataMover
}

// Task is a SCSI command as the data mover sees it.
type Task = task

// ITT is the task's Initiator Task Tag.
func (t *task) ITT() uint32 { return t.itt }

// RawLUN is the task's LUN field as sent.
func (t *task) RawLUN() [8]byte { return t.lun }

// ExpectedLength is the initiator's Expected Data Transfer Length.
func (t *task) ExpectedLength() uint32 { return t.edtl }

// Received is how many bytes of write data have arrived.
func (t *task) Received() uint32 { return t.received }

// Buffer is the task's data buffer (ExpectedLength bytes; nil when there is no data).
func (t *task) Buffer() []byte {
	if t.buf == nil {
		return nil
	}
	return t.buf.b[:t.edtl]
}

// DataIn is the read data the command produced.
func (t *task) DataIn() []byte {
	if !t.read || t.buf == nil {
		return nil
	}
	return t.buf.b[:min(t.cmd.InLen, int(t.edtl))]
}

// Status is the SCSI status and sense data of the executed command.
func (t *task) Status() (scsi.Status, []byte) { return t.cmd.Status, t.cmd.Sense }

// tcpDataMover is the data mover of iSCSI over TCP (RFC 7143 §11.7, §11.8).
type tcpDataMover struct{ c *conn }

func (m tcpDataMover) GetDataOut(t *Task) { m.c.sendR2Ts(t) }
func (m tcpDataMover) PutDataIn(t *Task)  { m.c.respond(t) }
