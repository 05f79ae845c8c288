package ddp

// Terminate error types and codes of the DDP layer (RFC 5041 §7.2; layer value 1 in RFC 5040 §4.8).
const (
	ETypeLocalCatastrophic = 0x0
	ETypeTaggedBuffer      = 0x1
	ETypeUntaggedBuffer    = 0x2

	// Tagged buffer errors.
	CodeInvalidSTag      = 0x00
	CodeBaseBounds       = 0x01
	CodeSTagNotAssoc     = 0x02
	CodeTOWrap           = 0x03
	CodeTaggedBadVersion = 0x04

	// Untagged buffer errors.
	CodeInvalidQN          = 0x01
	CodeNoBuffer           = 0x02
	CodeMSNRange           = 0x03
	CodeInvalidMO          = 0x04
	CodeTooLong            = 0x05
	CodeUntaggedBadVersion = 0x06
)
