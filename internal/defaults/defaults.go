// Package defaults fills in settings whose zero value, or any value below it, means "the
// default": sizes, counts, durations.
package defaults

// Positive sets *v to def unless it is above zero.
func Positive[T ~int | ~int64](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
