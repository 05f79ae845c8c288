package login

// Stage is a login stage as carried in the CSG/NSG fields (RFC 7143 §11.12.3).
type Stage uint8

// Login stages.
const (
	SecurityNegotiation    Stage = 0
	OperationalNegotiation Stage = 1
	FullFeaturePhase       Stage = 3
)

func (s Stage) String() string {
	switch s {
	case SecurityNegotiation:
		return "SecurityNegotiation"
	case OperationalNegotiation:
		return "OperationalNegotiation"
	case FullFeaturePhase:
		return "FullFeaturePhase"
	}
	return "Reserved"
}

// Session types (RFC 7143 §13.3).
const (
	SessionNormal    = "Normal"
	SessionDiscovery = "Discovery"
)

// ProtocolLevel is the iSCSIProtocolLevel this package implements
// (RFC 7144 §2.1: 1 for RFC 7143).
const ProtocolLevel = 1

// Params are the session and connection operational parameters after (or,
// as a TargetConfig/InitiatorConfig field, the limits for) negotiation.
type Params struct {
	SessionType                          string // "Normal" | "Discovery"
	InitiatorName, InitiatorAlias        string
	TargetName, TargetAlias              string
	TargetPortalGroupTag                 uint16
	HeaderDigest, DataDigest             bool // CRC32C (true) or None
	MaxConnections                       uint32
	InitialR2T, ImmediateData            bool
	MaxRecvDataSegmentLength             uint32 // declared by this side: we may receive up to this
	PeerMaxRecvDataSegmentLength         uint32 // declared by the peer: we may send up to this
	MaxBurstLength, FirstBurstLength     uint32
	DefaultTime2Wait, DefaultTime2Retain uint32
	MaxOutstandingR2T                    uint32
	DataPDUInOrder, DataSequenceInOrder  bool
	ErrorRecoveryLevel                   uint8
	ProtocolLevel                        uint8  // iSCSIProtocolLevel (RFC 7144)
	TaskReporting                        string // "RFC3720"

	// iSER (RFC 7145 §6).
	RDMAExtensions                 bool
	TargetRecvDataSegmentLength    uint32
	InitiatorRecvDataSegmentLength uint32
	MaxOutstandingUnexpectedPDUs   uint32 // 0: no limit
}

// DefaultParams returns the RFC 7143 §13 defaults (and RFC 7145 defaults for
// the iSER keys).
func DefaultParams() Params {
	return Params{
		SessionType:                    SessionNormal,
		MaxConnections:                 1,
		InitialR2T:                     true,
		ImmediateData:                  true,
		MaxRecvDataSegmentLength:       8192,
		PeerMaxRecvDataSegmentLength:   8192,
		MaxBurstLength:                 262144,
		FirstBurstLength:               65536,
		DefaultTime2Wait:               2,
		DefaultTime2Retain:             20,
		MaxOutstandingR2T:              1,
		DataPDUInOrder:                 true,
		DataSequenceInOrder:            true,
		ErrorRecoveryLevel:             0,
		ProtocolLevel:                  0,
		TaskReporting:                  "RFC3720",
		TargetRecvDataSegmentLength:    8192,
		InitiatorRecvDataSegmentLength: 8192,
	}
}

// Login response status (RFC 7143 §11.13.5), class<<8 | detail.
const (
	StatusSuccess              uint16 = 0x0000
	StatusInitiatorError       uint16 = 0x0200
	StatusAuthFailed           uint16 = 0x0201
	StatusForbidden            uint16 = 0x0202
	StatusTargetNotFound       uint16 = 0x0203
	StatusTargetRemoved        uint16 = 0x0204
	StatusUnsupportedVersion   uint16 = 0x0205
	StatusTooManyConnections   uint16 = 0x0206
	StatusMissingParameter     uint16 = 0x0207
	StatusCantIncludeInSession uint16 = 0x0208
	StatusSessionTypeUnsupp    uint16 = 0x0209
	StatusSessionDoesNotExist  uint16 = 0x020a
	StatusInvalidDuringLogin   uint16 = 0x020b
	StatusTargetError          uint16 = 0x0300
	StatusServiceUnavailable   uint16 = 0x0301
	StatusOutOfResources       uint16 = 0x0302
)
