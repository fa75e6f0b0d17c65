import { Command } from 'commander';
import { CliError, connectionOptions, credentialsOf, type ConnectionFlags } from '../../../bin/commands/flags.js';

describe('ACL credentials on the command line', () => {
  const parse = (args: string[]): ConnectionFlags => connectionOptions(new Command('x').exitOverride()).parse(args, { from: 'user' }).opts<ConnectionFlags>();

  it('--access-key and --secret-key become the credentials every role signs with', () => {
    expect(credentialsOf(parse(['--access-key', 'producer-ak', '--secret-key', 'producer-sk']))).toEqual({ credentials: { accessKey: 'producer-ak', secretKey: 'producer-sk' } });
    expect(credentialsOf(parse([]))).toEqual({});
  });

  it('one without the other is a command line mistake', () => {
    expect(() => credentialsOf(parse(['--access-key', 'producer-ak']))).toThrow(CliError);
    expect(() => credentialsOf(parse(['--secret-key', 'producer-sk']))).toThrow(/go together/);
  });
});
