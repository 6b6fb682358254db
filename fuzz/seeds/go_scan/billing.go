package billing

// Encore-style secret declaration: secretsync reads the field names and comments.
var secrets struct {
	GitHubAPIToken string // token the billing bot uses to open issues
	// Signs outgoing webhooks.
	WebhookSigningKey string
}
