// `npm run demo`: see ./command.ts for the options (--keep, --leads N).
import { demoCommand } from "./command";

demoCommand(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Everything is closed, so Node exits on its own. Should some handle linger anyway, say so and
    // exit rather than hang (the timer does not itself keep the process alive).
    setTimeout(() => {
      console.error("demo: something still held the event loop 5 s after shutdown; exiting");
      process.exit(code);
    }, 5000).unref();
  },
  (error) => {
    console.error("demo failed:", error);
    process.exit(1);
  },
);
