// `npm run demo`: runs the demo with 50 leads and prints its tables to stdout. Exit code 0 when it
// ran and shut down cleanly, 1 otherwise.
import { runDemo } from "./run";

runDemo({ leads: 50, out: process.stdout }).then(
  () => {
    process.exitCode = 0;
    // Everything is closed, so Node exits on its own. Should some handle linger anyway, say so and
    // exit rather than hang (the timer does not itself keep the process alive).
    setTimeout(() => {
      console.error("demo: something still held the event loop 5 s after shutdown; exiting");
      process.exit(0);
    }, 5000).unref();
  },
  (error) => {
    console.error("demo failed:", error);
    process.exit(1);
  },
);
