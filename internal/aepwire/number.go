package aepwire

import (
	"fmt"
	"math"
	"strconv"
)

// number is an integer that the specifications declare `type: number`, with examples such as
// 100.0 or 1.23456789E+11: it decodes from any JSON number with a whole value that int64 holds.
type number int64

func (n *number) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = number(v)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	// ±2^63 is the first float64 outside int64.
	if err != nil || f >= 1<<63 || f < -(1<<63) || f != math.Trunc(f) {
		return fmt.Errorf("%s is not a whole number", s)
	}
	*n = number(int64(f))
	return nil
}

func (n *number) int64Ptr() *int64 {
	if n == nil {
		return nil
	}
	v := int64(*n)
	return &v
}
