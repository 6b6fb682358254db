package badtype

var secrets struct {
	Fine string
	Port int
}
