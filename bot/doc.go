// Package bot is gantry's GitHub side and its orchestration: webhooks in,
// a lane of work per pull request, and the comment and check runs out.
// Decisions (routing an event, parsing a command, laying out a comment)
// are pure functions here; I/O goes through small interfaces over
// go-github declared next to their use.
package bot
