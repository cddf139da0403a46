	// One child (@NAME@) of bench/supervisors.sh: a native binary in fork
	// mode; restart at once (restart_delay 0, no exponential backoff).
	{
		name: "@NAME@",
		script: "@CHILD@",
		args: ["@D@/rec/@NAME@"],
		interpreter: "none",
		exec_mode: "fork",
		autorestart: true,
		restart_delay: 0,
		max_restarts: 1000,
		out_file: "@D@/log/@NAME@.out",
		error_file: "@D@/log/@NAME@.err",
	},
