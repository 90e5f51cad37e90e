package aepwire

// TokenResponse is the body of a successful POST /ims/token/v3 (client_credentials).
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	// ExpiresIn is the token's lifetime in seconds.
	ExpiresIn int64 `json:"expires_in"`
}

// TokenError is the body of a refused token request.
type TokenError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// Headers of every Platform API request.
const (
	HeaderAPIKey    = "x-api-key"
	HeaderOrgID     = "x-gw-ims-org-id"
	HeaderSandbox   = "x-sandbox-name"
	HeaderRequestID = "x-request-id"
	// HeaderIdempotencyKey makes a POST safe to retry: the server returns what the first request
	// with the key created. It is this provider's extension; AEP ignores it.
	HeaderIdempotencyKey = "Idempotency-Key"
)

// Gateway error codes of the API gateway, as AEP documents them.
const (
	GatewayTokenMissing  = "403010"
	GatewayTokenInvalid  = "401013"
	GatewayAPIKeyMissing = "403000"
	GatewayAPIKeyInvalid = "403003"
	GatewayHeaderMissing = "400003"
	GatewayNotEntitled   = "403025"
	// GatewayOrgMismatch answers a token whose organisation is not the x-gw-ims-org-id one
	// ("User region is missing").
	GatewayOrgMismatch = "403027"
)

// GatewayError is the body of an API gateway error.
type GatewayError struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

// TooManyRequests is the body of a 429 from the profile services.
type TooManyRequests struct {
	Message      string `json:"message"`
	Cause        string `json:"cause,omitempty"`
	RetryAfterMs string `json:"retryAfterMs"`
	StatusCode   string `json:"statusCode"`
}
