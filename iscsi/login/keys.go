package login

// keyKind is the negotiation semantics of a key (RFC 7143 §6.2, §13).
type keyKind uint8

const (
	kindDeclInitiator keyKind = iota // declarative, sent by the initiator
	kindDeclTarget                   // declarative, sent by the target only
	kindBoolOr
	kindBoolAnd
	kindNumMin
	kindNumMax
	kindList     // HeaderDigest, DataDigest, TaskReporting
	kindSecurity // AuthMethod, CHAP_*
	kindMarker   // IFMarker, OFMarker (obsoleted by RFC 7143 §13.26)
	kindMarkInt  // IFMarkInt, OFMarkInt (obsoleted)
	kindFFPOnly  // SendTargets: text requests in full feature phase only
)

type keyID uint8

const (
	kNone keyID = iota
	kHeaderDigest
	kDataDigest
	kMaxConnections
	kSendTargets
	kTargetName
	kInitiatorName
	kTargetAlias
	kInitiatorAlias
	kTargetAddress
	kTargetPortalGroupTag
	kInitialR2T
	kImmediateData
	kMaxRecvDataSegmentLength
	kMaxBurstLength
	kFirstBurstLength
	kDefaultTime2Wait
	kDefaultTime2Retain
	kMaxOutstandingR2T
	kDataPDUInOrder
	kDataSequenceInOrder
	kErrorRecoveryLevel
	kSessionType
	kAuthMethod
	kCHAPA
	kCHAPI
	kCHAPC
	kCHAPN
	kCHAPR
	kIFMarker
	kOFMarker
	kIFMarkInt
	kOFMarkInt
	kTaskReporting
	kProtocolLevel
	kRDMAExtensions
	kTargetRecvDataSegmentLength
	kInitiatorRecvDataSegmentLength
	kMaxOutstandingUnexpectedPDUs
	numKeys
)

type keyDef struct {
	name       string
	kind       keyKind
	min, max   uint64
	noDiscover bool // Irrelevant when SessionType=Discovery
	iser       bool // Irrelevant unless RDMAExtensions=Yes
}

const max24 = 1<<24 - 1

var keyDefs = [numKeys]keyDef{
	kHeaderDigest:                   {name: "HeaderDigest", kind: kindList},
	kDataDigest:                     {name: "DataDigest", kind: kindList},
	kMaxConnections:                 {name: "MaxConnections", kind: kindNumMin, min: 1, max: 65535, noDiscover: true},
	kSendTargets:                    {name: "SendTargets", kind: kindFFPOnly},
	kTargetName:                     {name: "TargetName", kind: kindDeclInitiator},
	kInitiatorName:                  {name: "InitiatorName", kind: kindDeclInitiator},
	kTargetAlias:                    {name: "TargetAlias", kind: kindDeclTarget},
	kInitiatorAlias:                 {name: "InitiatorAlias", kind: kindDeclInitiator},
	kTargetAddress:                  {name: "TargetAddress", kind: kindDeclTarget},
	kTargetPortalGroupTag:           {name: "TargetPortalGroupTag", kind: kindDeclTarget},
	kInitialR2T:                     {name: "InitialR2T", kind: kindBoolOr, noDiscover: true},
	kImmediateData:                  {name: "ImmediateData", kind: kindBoolAnd, noDiscover: true},
	kMaxRecvDataSegmentLength:       {name: "MaxRecvDataSegmentLength", kind: kindDeclInitiator, min: 512, max: max24},
	kMaxBurstLength:                 {name: "MaxBurstLength", kind: kindNumMin, min: 512, max: max24, noDiscover: true},
	kFirstBurstLength:               {name: "FirstBurstLength", kind: kindNumMin, min: 512, max: max24, noDiscover: true},
	kDefaultTime2Wait:               {name: "DefaultTime2Wait", kind: kindNumMax, min: 0, max: 3600},
	kDefaultTime2Retain:             {name: "DefaultTime2Retain", kind: kindNumMin, min: 0, max: 3600},
	kMaxOutstandingR2T:              {name: "MaxOutstandingR2T", kind: kindNumMin, min: 1, max: 65535, noDiscover: true},
	kDataPDUInOrder:                 {name: "DataPDUInOrder", kind: kindBoolOr, noDiscover: true},
	kDataSequenceInOrder:            {name: "DataSequenceInOrder", kind: kindBoolOr, noDiscover: true},
	kErrorRecoveryLevel:             {name: "ErrorRecoveryLevel", kind: kindNumMin, min: 0, max: 2},
	kSessionType:                    {name: "SessionType", kind: kindDeclInitiator},
	kAuthMethod:                     {name: "AuthMethod", kind: kindSecurity},
	kCHAPA:                          {name: "CHAP_A", kind: kindSecurity},
	kCHAPI:                          {name: "CHAP_I", kind: kindSecurity},
	kCHAPC:                          {name: "CHAP_C", kind: kindSecurity},
	kCHAPN:                          {name: "CHAP_N", kind: kindSecurity},
	kCHAPR:                          {name: "CHAP_R", kind: kindSecurity},
	kIFMarker:                       {name: "IFMarker", kind: kindMarker},
	kOFMarker:                       {name: "OFMarker", kind: kindMarker},
	kIFMarkInt:                      {name: "IFMarkInt", kind: kindMarkInt},
	kOFMarkInt:                      {name: "OFMarkInt", kind: kindMarkInt},
	kTaskReporting:                  {name: "TaskReporting", kind: kindList, noDiscover: true},
	kProtocolLevel:                  {name: "iSCSIProtocolLevel", kind: kindNumMin, min: 0, max: 31},
	kRDMAExtensions:                 {name: "RDMAExtensions", kind: kindBoolAnd, noDiscover: true},
	kTargetRecvDataSegmentLength:    {name: "TargetRecvDataSegmentLength", kind: kindDeclTarget, min: 512, max: max24, iser: true},
	kInitiatorRecvDataSegmentLength: {name: "InitiatorRecvDataSegmentLength", kind: kindDeclInitiator, min: 512, max: max24, iser: true},
	kMaxOutstandingUnexpectedPDUs:   {name: "MaxOutstandingUnexpectedPDUs", kind: kindNumMin, min: 0, max: 1<<32 - 1, iser: true},
}

// lookupKey maps a key name to its id (kNone if unknown). Key names are case
// sensitive (RFC 7143 §6.1). It does not allocate.
func lookupKey(k []byte) keyID {
	for i := kHeaderDigest; i < numKeys; i++ {
		if keyDefs[i].name == string(k) {
			return i
		}
	}
	return kNone
}
