package domain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"

	"github.com/google/uuid"
)

// Ticket codes are bearer secrets derived from the ticket, never stored: a
// code is base32 (RFC 4648, upper case, no padding: QR alphanumeric mode)
// of 30 bytes, the ticket id (16), its generation (2, big-endian; 0 when
// issued, one more per transfer) and the first 12 bytes of
// HMAC-SHA256(key, codeDomain || id || generation). Anyone holding the key
// can recompute a code; nobody else can forge one.
const (
	// TicketCodeLen is the length of a ticket code, in characters.
	TicketCodeLen = 48
	// MinTicketKeyLen is the shortest key TicketCodes takes, in bytes.
	MinTicketKeyLen = 32
	codeMACLen      = 12
	codeRawLen      = 16 + 2 + codeMACLen
)

// codeDomain separates ticket codes from any other use of the key.
const codeDomain = "ticketing/ticket-code/v1\x00"

// DevTicketKey is the ticket key of a development engine started without
// TICKETING_TICKET_KEY. It is public: codes made with it prove nothing.
const DevTicketKey = "ticketing-development-ticket-key-not-a-secret!"

// ErrUnknownCode says that a string is not a code this key made: malformed,
// or its HMAC does not match.
var ErrUnknownCode = errors.New("unknown ticket code")

// ErrTicketKeyTooShort: a ticket key shorter than MinTicketKeyLen.
var ErrTicketKeyTooShort = errors.New("ticket key must be at least 32 bytes")

var codeEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// TicketCodes makes and verifies ticket codes under one key.
type TicketCodes struct{ key []byte }

// NewTicketCodes returns the codes of key, which must be at least
// MinTicketKeyLen bytes (ErrTicketKeyTooShort).
func NewTicketCodes(key []byte) (*TicketCodes, error) {
	if len(key) < MinTicketKeyLen {
		return nil, ErrTicketKeyTooShort
	}
	return &TicketCodes{key: append([]byte(nil), key...)}, nil
}

// Code returns the code of a ticket's generation.
func (c *TicketCodes) Code(id uuid.UUID, generation int) string {
	var raw [codeRawLen]byte
	copy(raw[:16], id[:])
	binary.BigEndian.PutUint16(raw[16:18], uint16(generation))
	copy(raw[18:], c.mac(raw[:18]))
	return codeEncoding.EncodeToString(raw[:])
}

// Verify returns the ticket and generation a code names. A string that is
// not a code of this key fails with ErrUnknownCode; the HMAC is compared in
// constant time.
func (c *TicketCodes) Verify(code string) (uuid.UUID, int, error) {
	if len(code) != TicketCodeLen {
		return uuid.Nil, 0, ErrUnknownCode
	}
	raw, err := codeEncoding.DecodeString(code)
	if err != nil || len(raw) != codeRawLen {
		return uuid.Nil, 0, ErrUnknownCode
	}
	if !hmac.Equal(raw[18:], c.mac(raw[:18])) {
		return uuid.Nil, 0, ErrUnknownCode
	}
	id, _ := uuid.FromBytes(raw[:16])
	return id, int(binary.BigEndian.Uint16(raw[16:18])), nil
}

func (c *TicketCodes) mac(msg []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(codeDomain))
	m.Write(msg)
	return m.Sum(nil)[:codeMACLen]
}
