import { startTestSmtp, type ReceivedMail, type TestSmtp } from '../../test/support/test-smtp';

/**
 * A real SMTP server on a fixed loopback port that the soak takes down and brings back: while down
 * nothing listens on the port (connections are refused), as when a mail relay is out. Mail
 * received by every incarnation is kept, so deliveries can be counted per recipient at the end.
 */
export class SmtpMailbox {
  private server: TestSmtp | undefined;
  private readonly earlier: ReceivedMail[] = [];
  private closed = false;

  private constructor(readonly port: number) {}

  static async start(): Promise<SmtpMailbox> {
    const server = await startTestSmtp(0);
    const mailbox = new SmtpMailbox(server.port);
    mailbox.server = server;
    return mailbox;
  }

  get up(): boolean {
    return this.server !== undefined;
  }

  async takeDown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.earlier.push(...server.received);
    await server.close();
  }

  async bringUp(): Promise<void> {
    if (!this.server && !this.closed) this.server = await startTestSmtp(this.port);
  }

  /** Down for good: an outage that ends after this does not bring the server back. */
  async close(): Promise<void> {
    this.closed = true;
    await this.takeDown();
  }

  received(): ReceivedMail[] {
    return [...this.earlier, ...(this.server?.received ?? [])];
  }
}
