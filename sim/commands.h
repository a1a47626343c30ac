/* commands.h - the subcommands of bin/sim. Each takes the arguments after
 * the subcommand name (argv[0] is the subcommand) and returns the process
 * exit code: 0 success, 1 run-time failure, 2 usage error. */
#ifndef SIM_COMMANDS_H
#define SIM_COMMANDS_H

int cmd_train(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_bench_train(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_serve(int argc, char **argv);       /* sim/cmd_serve.c */
int cmd_bench_serve(int argc, char **argv); /* sim/cmd_bench_serve.c */
/* Print the error of a failed command on one line, free the context and map
 * the status to an exit code (2 for usage errors, 1 otherwise). */
struct sim_ctx;
int cmd_fail(const char *cmd, struct sim_ctx *ctx);

#endif
