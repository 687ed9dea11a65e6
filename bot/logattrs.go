package bot

// jobAttrs are the fields every log line about a job carries: the
// repository, the pull request or branch, the head and the delivery that
// asked for it, so one pull request's or one delivery's lines are found
// together in the JSON logs.
func jobAttrs(j Job) []any {
	a := []any{"kind", string(j.Kind)}
	if j.Owner != "" {
		a = append(a, "repository", j.Owner+"/"+j.Repo)
	} else {
		a = append(a, "installation", j.InstallationID)
	}
	if j.PR != 0 {
		a = append(a, "pr", j.PR)
	} else if j.BaseRef != "" {
		a = append(a, "branch", j.BaseRef)
	}
	if j.HeadSHA != "" {
		a = append(a, "head", shortSHA(j.HeadSHA))
	}
	if j.DeliveryID != "" {
		a = append(a, "delivery", j.DeliveryID)
	}
	return a
}

// withoutDelivery is j for a logger that already names the delivery.
func withoutDelivery(j Job) Job {
	j.DeliveryID = ""
	return j
}
