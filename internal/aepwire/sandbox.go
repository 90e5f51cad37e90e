package aepwire

import "context"

// DefaultSandbox is the sandbox a request works in when it names none: the organisation's
// default production sandbox.
const DefaultSandbox = "prod"

type sandboxKey struct{}

// WithSandbox returns a context whose calls work in the named sandbox (x-sandbox-name): the
// server puts the sandbox of each request there, and a platform of several sandboxes reads it.
func WithSandbox(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, sandboxKey{}, name)
}

// SandboxOf returns the sandbox a context names, if it names one.
func SandboxOf(ctx context.Context) (string, bool) {
	name, ok := ctx.Value(sandboxKey{}).(string)
	return name, ok && name != ""
}
