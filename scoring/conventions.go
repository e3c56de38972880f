package scoring

// How a score's conventions read for people (issue 16): which ceiling
// its Ceiling is and how its Ceiled was formed.

// TransformName names how Ceiled was formed: "ratio" or
// "squared-clipped"; a score stored before conventions were recorded was
// formed by the ratio.
func (c Conventions) TransformName() string {
	if c.Transform == "" {
		return "ratio"
	}
	return c.Transform
}

// Formula says in a few characters how Ceiled was formed from Raw and
// Ceiling: "raw/upper", "(raw/lower)² clipped" (the ratio clipped to
// [0, 1], then squared); "raw/ceiling" when the ceiling's kind was not
// recorded; "" when there is no ceiling.
func (c Conventions) Formula() string {
	name := c.Ceiling
	switch name {
	case "none":
		return ""
	case "":
		name = "ceiling"
	}
	if c.TransformName() == "squared-clipped" {
		return "(raw/" + name + ")² clipped"
	}
	return "raw/" + name
}
