package scsi

import "errors"

// Backend is the narrow backing-store contract (implemented by package backstore).
type Backend interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	// Flush makes completed writes durable (fdatasync for files).
	Flush() error
	// Unmap deallocates a byte range; it may return ErrUnmapUnsupported.
	Unmap(off, length int64) error
	// Size is the store's size in bytes.
	Size() int64
	Close() error
}

// Mapper is optionally implemented by a Backend that can tell allocated
// ranges from holes (used by GET LBA STATUS). Mapped reports whether the byte
// at off is allocated and how many bytes from off (at most length) share that
// state.
type Mapper interface {
	Mapped(off, length int64) (mapped bool, extent int64, err error)
}

// Provisioner is optionally implemented by a Backend that deallocates on
// Unmap. thin makes the logical unit thin provisioned (LBPME=1, UNMAP and
// WRITE SAME with UNMAP supported); zeroes reports that deallocated blocks
// read back as zeros (LBPRZ=1).
type Provisioner interface {
	Provisioning() (thin, zeroes bool)
}

// ErrUnmapUnsupported is returned by Backend.Unmap when the store cannot
// deallocate.
var ErrUnmapUnsupported = errors.New("unmap not supported")

// Errors returned by Target management methods.
var (
	ErrLUNExists   = errors.New("logical unit already exists")
	ErrNoLUN       = errors.New("no such logical unit")
	ErrBadLUConfig = errors.New("bad logical unit configuration")
)

// Nexus identifies an I_T nexus: initiator port = InitiatorName + ISID,
// target port = TargetName + TPGT. It is comparable.
type Nexus struct {
	InitiatorName string
	ISID          uint64
	TargetName    string
	TPGT          uint16
}

// TaskAttr is the SAM task attribute, numbered as in the iSCSI ATTR field.
type TaskAttr uint8

// Task attributes.
const (
	Untagged    TaskAttr = 0
	Simple      TaskAttr = 1
	Ordered     TaskAttr = 2
	HeadOfQueue TaskAttr = 3
	ACA         TaskAttr = 4
)

// Status is a SAM status code.
type Status uint8

// SAM-5 status codes.
const (
	Good                Status = 0x00
	CheckCondition      Status = 0x02
	ConditionMet        Status = 0x04
	Busy                Status = 0x08
	ReservationConflict Status = 0x18
	TaskSetFull         Status = 0x28
	ACAActive           Status = 0x30
	TaskAborted         Status = 0x40
)

// ResetKind selects the reset performed by Target.Reset.
type ResetKind uint8

// Reset kinds (SAM-5 task management functions).
const (
	LUNReset ResetKind = iota
	TargetWarmReset
	TargetColdReset
)

// LUConfig configures one logical unit.
type LUConfig struct {
	Backend   Backend
	BlockSize uint32 // 512 (default) or 4096
	ReadOnly  bool
	// WriteBack reports WCE=1 in the caching mode page: writes are not
	// flushed until SYNCHRONIZE CACHE or FUA. False means write-through:
	// every write is flushed before GOOD status.
	WriteBack bool
	// Serial is the unit serial number (VPD page 80h); derived from the LUN
	// and the other identity fields when empty.
	Serial                        string
	VendorID, ProductID, Revision string // defaults "XTGT", "xtgt-lun", "0001"
	// NAAOUI, when non-zero, is the 24-bit IEEE company ID used for an NAA
	// IEEE Registered Extended (type 6) designator; otherwise a locally
	// assigned (type 3) NAA designator is derived from the serial number.
	NAAOUI uint32
	// MaxTransferBytes bounds one READ/WRITE (reported in VPD B0h); 0 means
	// 8 MiB.
	MaxTransferBytes uint32
	// PRFile is the path of the file persistent reservations are saved to
	// when an initiator sets APTPL (SPC-4 §5.9.5); it is loaded by AddLU.
	// Empty means persistence across power loss is not supported.
	PRFile string
	// Removable reports RMB=1 in standard INQUIRY data: PREVENT ALLOW
	// MEDIUM REMOVAL is tracked per I_T nexus and START STOP UNIT with LOEJ
	// ejects and loads the (emulated) medium (SBC-3 §5.15, §5.25).
	Removable bool
	// PhysicalBlockExponent is the LOGICAL BLOCKS PER PHYSICAL BLOCK
	// EXPONENT reported by READ CAPACITY(16): 1<<exp logical blocks share a
	// physical block (SBC-3 §5.16.2). At most 15.
	PhysicalBlockExponent uint8
}

// Command is one SCSI command and its outcome.
type Command struct {
	Nexus Nexus
	LUN   uint64 // decoded LUN number (see DecodeLUN)
	CDB   []byte
	Attr  TaskAttr
	Tag   uint64
	// DataOut is the data the initiator sent; it may be shorter or longer
	// than the CDB asks for.
	DataOut []byte
	// DataIn is the caller's buffer of the initiator's expected transfer
	// length; Execute fills it from index 0.
	DataIn []byte
	// Abort, when non-nil, is closed by the fabric when the task is
	// aborted (ABORT TASK, ABORT TASK SET, resets, I_T nexus loss).
	// Long-running commands (SANITIZE) then return at once, leaving the
	// operation itself running as SBC-3 requires.
	Abort <-chan struct{}

	// Results, set by Execute.
	Status   Status
	Sense    []byte // points into SenseBuf
	SenseBuf [252]byte
	InLen    int // bytes of DataIn filled
	// Needed is the number of bytes the CDB asks to transfer in its
	// direction, for residual computation.
	Needed int
}
