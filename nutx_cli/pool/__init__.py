"""The pool: templates, jobs, share checks, epochs, vardiff and statistics (sans-IO), and the service that wires them."""
